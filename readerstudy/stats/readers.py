"""Each reader against the CNN: the reader's operating point, own ROC area and paired test.

A reader's binary decision (biopsy/treat vs reassure) gives one (1 - specificity, sensitivity)
point, with Wilson score intervals; the reader's confidence ratings give an empirical ROC
curve whose AUC is compared with the CNN's on the same cases by the paired DeLong test
(Esteva et al. 2017, Fig. 3; Brinker et al. 2019). A reader who has graded only some cases is
analysed on those cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from readerstudy.stats.roc import (
    AucCi,
    DelongResult,
    PairedTest,
    RocCurve,
    auc_ci_from_delong,
    delong,
    normal_quantile,
    paired_test_from_delong,
)

# A reader point this close to the CNN's curve counts as on it (float round-off only).
ON_CURVE_TOLERANCE = 1e-12


class ReaderInputError(ValueError):
    """A reader's decisions or ratings that cannot be analysed; the message names the reader."""


@dataclass(frozen=True)
class ReaderInput:
    """One reader's grading: the cases read (indices into truth), decisions and ratings.

    decision: True = biopsy/treat. rating: malignancy confidence, higher = more likely malignant.
    """

    reader: str
    case_index: np.ndarray
    decision: np.ndarray
    rating: np.ndarray


@dataclass(frozen=True)
class WilsonCi:
    """A proportion with its Wilson score interval; NaN when there is nothing to count."""

    successes: int
    total: int
    estimate: float
    ci: tuple[float, float]


@dataclass(frozen=True)
class ReaderResult:
    """One reader's point, AUC and paired test. vs_cnn is reader minus CNN on the reader's
    cases; auc and vs_cnn are None when those cases are all of one class."""

    reader: str
    n_cases: int
    n_positive: int
    n_negative: int
    sensitivity: WilsonCi
    specificity: WilsonCi
    auc: AucCi | None
    vs_cnn: PairedTest | None
    position: str  # "below", "on" or "above" the CNN's curve; "undefined" without a point


@dataclass(frozen=True)
class AverageReader:
    """The "average dermatologist": mean sensitivity and specificity over readers who graded at
    least one positive and one negative case (Esteva et al. 2017; Brinker et al. 2019)."""

    n_readers: int
    sensitivity: float
    specificity: float


@dataclass(frozen=True)
class CurvePositions:
    """How many reader points lie below, on and above the CNN's empirical ROC curve."""

    below: int
    on: int
    above: int


def wilson_ci(successes: int, total: int, level: float = 0.95) -> WilsonCi:
    """Wilson (1927) score interval for a binomial proportion.

    Defined at 0 and at ``total`` successes (unlike the Wald interval); NaN when total is 0.
    """
    if total == 0:
        nan = float("nan")
        return WilsonCi(successes=0, total=0, estimate=nan, ci=(nan, nan))
    if not 0 <= successes <= total:
        raise ValueError(f"successes must lie in [0, {total}], got {successes}")
    z = normal_quantile(level)
    p = successes / total
    denominator = 1 + z**2 / total
    centre = (p + z**2 / (2 * total)) / denominator
    half = z / denominator * np.sqrt(p * (1 - p) / total + z**2 / (4 * total**2))
    return WilsonCi(
        successes=successes,
        total=total,
        estimate=p,
        ci=(max(0.0, float(centre - half)), min(1.0, float(centre + half))),
    )


def validate_reader(reader: ReaderInput, n_cases: int) -> ReaderInput:
    """The reader's arrays as numpy arrays of the right kinds, or a ReaderInputError."""
    name = reader.reader
    case_index = np.asarray(reader.case_index)
    decision = np.asarray(reader.decision)
    rating = np.asarray(reader.rating, dtype=np.float64)
    if case_index.ndim != 1 or not (len(case_index) == len(decision) == len(rating)):
        raise ReaderInputError(
            f"reader {name!r}: case_index, decision and rating must be 1-D of one length "
            f"(got {case_index.shape}, {decision.shape}, {rating.shape})"
        )
    if len(case_index) and not np.issubdtype(case_index.dtype, np.integer):
        raise ReaderInputError(f"reader {name!r}: case_index must be integers")
    if len(case_index) and (case_index.min() < 0 or case_index.max() >= n_cases):
        raise ReaderInputError(f"reader {name!r}: case_index outside 0..{n_cases - 1}")
    if len(case_index) and np.bincount(case_index).max() > 1:
        raise ReaderInputError(f"reader {name!r}: a case is graded twice")
    if decision.dtype != np.bool_ and not np.isin(decision, (0, 1)).all():
        raise ReaderInputError(f"reader {name!r}: decision must be True/False")
    if not np.isfinite(rating).all():
        raise ReaderInputError(f"reader {name!r}: ratings contain NaN or infinite values")
    return ReaderInput(
        reader=name,
        case_index=case_index.astype(np.intp),
        decision=decision.astype(bool),
        rating=rating,
    )


def curve_height(curve: RocCurve, fpr: float) -> tuple[float, float]:
    """Lowest and highest TPR of the CNN's empirical ROC polyline at a false-positive rate.

    The polyline joins the curve's corners (Metz 1978); at an FPR where the curve rises
    vertically the two differ, elsewhere both are the linear interpolation.
    """
    xs, ys = curve.fpr, curve.tpr
    left = int(np.searchsorted(xs, fpr, side="left"))
    right = int(np.searchsorted(xs, fpr, side="right")) - 1
    if left <= right:  # corners at exactly this FPR
        return float(ys[left]), float(ys[right])
    lo_x, hi_x, lo_y, hi_y = xs[right], xs[left], ys[right], ys[left]
    height = float(lo_y + (fpr - lo_x) * (hi_y - lo_y) / (hi_x - lo_x))
    return height, height


def curve_position(curve: RocCurve, fpr: float, tpr: float) -> str:
    """Whether a reader's point (FPR, TPR) lies below, on or above the CNN's ROC curve.

    Below means the CNN reaches a higher sensitivity at the reader's specificity (Esteva et al.
    2017, Fig. 3); "undefined" when the point is not defined (NaN).
    """
    if not (np.isfinite(fpr) and np.isfinite(tpr)):
        return "undefined"
    lowest, highest = curve_height(curve, fpr)
    if tpr < lowest - ON_CURVE_TOLERANCE:
        return "below"
    if tpr > highest + ON_CURVE_TOLERANCE:
        return "above"
    return "on"


def _reader_result(
    positive: np.ndarray,
    reader: ReaderInput,
    both: DelongResult | None,
    row: int,
    curve: RocCurve,
    level: float,
) -> ReaderResult:
    """Assemble a reader's row; ``both`` holds the reader's ratings at ``row`` and the CNN's
    scores in its last row, on the reader's cases (None when those are all one class)."""
    case_positive = positive[reader.case_index]
    n_positive = int(case_positive.sum())
    n_negative = len(case_positive) - n_positive
    sensitivity = wilson_ci(int(reader.decision[case_positive].sum()), n_positive, level)
    specificity = wilson_ci(int((~reader.decision[~case_positive]).sum()), n_negative, level)
    last = len(both.auc) - 1 if both is not None else 0
    return ReaderResult(
        reader=reader.reader,
        n_cases=len(case_positive),
        n_positive=n_positive,
        n_negative=n_negative,
        sensitivity=sensitivity,
        specificity=specificity,
        auc=auc_ci_from_delong(both, row, level) if both is not None else None,
        vs_cnn=paired_test_from_delong(both, row, last, level) if both is not None else None,
        position=curve_position(curve, 1 - specificity.estimate, sensitivity.estimate),
    )


def reader_results(
    truth: np.ndarray,
    cnn_scores: np.ndarray,
    readers: Sequence[ReaderInput],
    curve: RocCurve,
    level: float = 0.95,
) -> tuple[ReaderResult, ...]:
    """Every reader's sensitivity and specificity (Wilson 1927 CIs), empirical AUC from the
    ratings with its DeLong (1988) CI, and the paired DeLong test against the CNN on the
    reader's own cases.

    Readers who graded the same cases share one DeLong computation (Sun & Xu 2014), which
    gives the same numbers as one computation per reader.
    """
    positive = np.asarray(truth, dtype=bool)
    checked = [validate_reader(r, len(positive)) for r in readers]
    groups: dict[bytes, list[int]] = {}
    for i, reader in enumerate(checked):
        key = np.sort(reader.case_index).tobytes()
        groups.setdefault(key, []).append(i)
    results: list[ReaderResult | None] = [None] * len(checked)
    for members in groups.values():
        cases = np.sort(checked[members[0]].case_index)
        both: DelongResult | None = None
        group_positive = positive[cases]
        if group_positive.any() and not group_positive.all():
            rows = np.empty((len(members) + 1, len(cases)))
            for row, i in enumerate(members):
                order = np.argsort(checked[i].case_index)
                rows[row] = checked[i].rating[order]
            rows[-1] = cnn_scores[cases]
            both = delong(group_positive, rows)
        for row, i in enumerate(members):
            results[i] = _reader_result(positive, checked[i], both, row, curve, level)
    return tuple(r for r in results if r is not None)


def reader_result(
    truth: np.ndarray,
    cnn_scores: np.ndarray,
    reader: ReaderInput,
    curve: RocCurve,
    level: float = 0.95,
) -> ReaderResult:
    """One reader's point (Wilson 1927 CIs), DeLong (1988) AUC and paired test vs the CNN."""
    return reader_results(truth, cnn_scores, [reader], curve, level)[0]


def average_reader(results: Sequence[ReaderResult]) -> AverageReader:
    """Mean sensitivity and specificity over readers with both defined (Esteva et al. 2017)."""
    points = [
        (r.sensitivity.estimate, r.specificity.estimate)
        for r in results
        if r.n_positive and r.n_negative
    ]
    if not points:
        return AverageReader(n_readers=0, sensitivity=float("nan"), specificity=float("nan"))
    sens, spec = np.mean(points, axis=0)
    return AverageReader(n_readers=len(points), sensitivity=float(sens), specificity=float(spec))


def count_positions(results: Sequence[ReaderResult]) -> CurvePositions:
    """Counts of reader points below, on and above the CNN's curve (Esteva et al. 2017)."""
    positions = [r.position for r in results]
    return CurvePositions(
        below=positions.count("below"), on=positions.count("on"), above=positions.count("above")
    )
