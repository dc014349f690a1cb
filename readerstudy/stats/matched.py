"""The CNN against each reader at that reader's own operating point: "the CNN beat X of N".

Brinker et al. (Eur J Cancer 2019) read the CNN's specificity off its ROC curve at *each*
dermatologist's sensitivity (mean 68.2%, range 47.5-86.25% over 145 dermatologists) and
compared it with that dermatologist's specificity; Haenssle et al. (Ann Oncol 2018) did the
same at the dermatologists' mean sensitivity. The mirror image, the CNN's sensitivity at each
reader's specificity, follows Tschandl et al. (Lancet Oncol 2019).

The CNN's value is read off the empirical curve exactly as ``operating_points`` does (only
thresholds the CNN can use, no interpolation: conservative for the CNN), on the reader's own
cases, so that a reader who graded only some cases is matched on those cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from readerstudy.stats.operating_points import (
    sensitivity_at_specificity,
    specificity_at_sensitivity,
)
from readerstudy.stats.readers import ReaderInput

# Rates are fractions of case counts; closer than this they are equal (float round-off only).
TIE_TOLERANCE = 1e-12

Outcome = Literal["beat", "tied", "lost"]


@dataclass(frozen=True)
class ReaderMatch:
    """One reader against the CNN at the reader's operating point (Brinker et al. 2019).

    ``outcome``: at the reader's sensitivity, the CNN's specificity against the reader's
    (beat: the CNN's is higher); ``outcome_at_specificity``: at the reader's specificity, the
    CNN's sensitivity against the reader's (Tschandl et al. 2019).
    """

    reader: str
    n_cases: int
    sensitivity: float
    specificity: float
    cnn_specificity_at_sensitivity: float
    cnn_sensitivity_at_specificity: float
    outcome: Outcome
    outcome_at_specificity: Outcome


@dataclass(frozen=True)
class MatchedSummary:
    """The CNN's rate matched to each reader's ``matched`` rate, over readers: mean and range
    (Brinker et al. 2019: specificity 68.2%, 47.5-86.25%), the readers' mean of the same
    rate, and how many readers the CNN beat, tied or lost to. NaN without readers."""

    matched: str
    n_readers: int
    mean: float
    min: float
    max: float
    reader_mean: float
    beat: int
    tied: int
    lost: int


@dataclass(frozen=True)
class PerReaderComparison:
    """Every reader's match with the CNN, and the two summaries (Brinker et al. 2019)."""

    readers: tuple[ReaderMatch, ...]
    at_sensitivity: MatchedSummary
    at_specificity: MatchedSummary


def outcome(cnn_value: float, reader_value: float) -> Outcome:
    """Whether the CNN beat (higher), tied or lost to a reader on one rate."""
    if cnn_value > reader_value + TIE_TOLERANCE:
        return "beat"
    if cnn_value < reader_value - TIE_TOLERANCE:
        return "lost"
    return "tied"


def reader_match(
    truth: np.ndarray, cnn_scores: np.ndarray, reader: ReaderInput
) -> ReaderMatch | None:
    """The CNN's specificity at the reader's sensitivity and its sensitivity at the reader's
    specificity, on the reader's cases (Brinker et al. 2019; Tschandl et al. 2019); None when
    those cases lack a class, so that the reader has no operating point."""
    cases = np.asarray(reader.case_index)
    positive = np.asarray(truth, dtype=bool)[cases]
    scores = np.asarray(cnn_scores, dtype=np.float64)[cases]
    decision = np.asarray(reader.decision, dtype=bool)
    if not positive.any() or positive.all():
        return None
    sensitivity = float(decision[positive].mean())
    specificity = float((~decision[~positive]).mean())
    cnn_specificity, _ = specificity_at_sensitivity(positive, scores, sensitivity)
    cnn_sensitivity, _ = sensitivity_at_specificity(positive, scores, specificity)
    return ReaderMatch(
        reader=reader.reader,
        n_cases=len(cases),
        sensitivity=sensitivity,
        specificity=specificity,
        cnn_specificity_at_sensitivity=cnn_specificity,
        cnn_sensitivity_at_specificity=cnn_sensitivity,
        outcome=outcome(cnn_specificity, specificity),
        outcome_at_specificity=outcome(cnn_sensitivity, sensitivity),
    )


def _summary(
    matched: str, cnn_values: list[float], reader_values: list[float], outcomes: list[Outcome]
) -> MatchedSummary:
    nan = float("nan")
    return MatchedSummary(
        matched=matched,
        n_readers=len(cnn_values),
        mean=float(np.mean(cnn_values)) if cnn_values else nan,
        min=min(cnn_values) if cnn_values else nan,
        max=max(cnn_values) if cnn_values else nan,
        reader_mean=float(np.mean(reader_values)) if reader_values else nan,
        beat=outcomes.count("beat"),
        tied=outcomes.count("tied"),
        lost=outcomes.count("lost"),
    )


def per_reader_comparison(
    truth: np.ndarray, cnn_scores: np.ndarray, readers: Sequence[ReaderInput]
) -> PerReaderComparison:
    """Brinker et al. (2019) per reader: the CNN at each reader's sensitivity (and, after
    Tschandl et al. 2019, at each reader's specificity), with the mean and range over readers
    and the count of readers the CNN beat, tied or lost to. Readers without cases of both
    classes have no operating point and are left out."""
    matches = tuple(
        match for reader in readers if (match := reader_match(truth, cnn_scores, reader))
    )
    return PerReaderComparison(
        readers=matches,
        at_sensitivity=_summary(
            "sensitivity",
            [m.cnn_specificity_at_sensitivity for m in matches],
            [m.specificity for m in matches],
            [m.outcome for m in matches],
        ),
        at_specificity=_summary(
            "specificity",
            [m.cnn_sensitivity_at_specificity for m in matches],
            [m.sensitivity for m in matches],
            [m.outcome_at_specificity for m in matches],
        ),
    )
