"""One line per subgroup of readers, side by side: Brinker et al. (Eur J Cancer 2019) report the
attendings apart (mean sensitivity 92.8%, specificity 57.7%; the CNN's specificity at that
sensitivity 61.1%), as Tschandl et al. (Lancet Oncol 2019) report readers by experience.

A line is the subgroup's average reader (the mean of each reader's sensitivity and specificity
on their own cases, as ``readers.average_reader``) and the CNN read off its empirical curve at
that mean, exactly as ``operating_points`` does (only thresholds the CNN can use; no
interpolation). No interval: the full analysis restricted to the subgroup gives those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from readerstudy.stats.matched import reader_match
from readerstudy.stats.operating_points import (
    sensitivity_at_specificity,
    specificity_at_sensitivity,
)
from readerstudy.stats.readers import ReaderInput
from readerstudy.stats.roc import checked_scores, checked_truth


@dataclass(frozen=True)
class SubgroupLine:
    """The subgroup's average reader and the CNN at it; NaN without a reader who graded cases
    of both classes (``n_readers`` 0)."""

    n_readers: int
    sensitivity: float
    specificity: float
    cnn_specificity_at_sensitivity: float
    cnn_sensitivity_at_specificity: float

    def to_dict(self) -> dict[str, float | int | None]:
        def plain(value: float) -> float | None:
            return float(value) if np.isfinite(value) else None

        return {
            "n_readers": self.n_readers,
            "sensitivity": plain(self.sensitivity),
            "specificity": plain(self.specificity),
            "cnn_specificity_at_sensitivity": plain(self.cnn_specificity_at_sensitivity),
            "cnn_sensitivity_at_specificity": plain(self.cnn_sensitivity_at_specificity),
        }


def subgroup_line(
    truth: ArrayLike, cnn_scores: ArrayLike, readers: Sequence[ReaderInput]
) -> SubgroupLine:
    """The readers' mean sensitivity and specificity, the CNN's specificity at that mean
    sensitivity (Brinker et al. 2019) and its sensitivity at that mean specificity (Tschandl
    et al. 2019). Readers whose cases lack a class have no point and are left out."""
    positive = checked_truth(truth)
    scores = checked_scores(positive, cnn_scores, name="cnn_scores")
    matches = [match for reader in readers if (match := reader_match(positive, scores, reader))]
    if not matches:
        nan = float("nan")
        return SubgroupLine(0, nan, nan, nan, nan)
    sensitivity = float(np.mean([m.sensitivity for m in matches]))
    specificity = float(np.mean([m.specificity for m in matches]))
    return SubgroupLine(
        n_readers=len(matches),
        sensitivity=sensitivity,
        specificity=specificity,
        cnn_specificity_at_sensitivity=specificity_at_sensitivity(positive, scores, sensitivity)[0],
        cnn_sensitivity_at_specificity=sensitivity_at_specificity(positive, scores, specificity)[0],
    )
