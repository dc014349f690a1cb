"""The CNN at the readers' operating point: Brinker's and Tschandl's comparisons.

Brinker et al. (Eur J Cancer 2019): the CNN's specificity at the readers' mean sensitivity.
Tschandl et al. (Lancet Oncol 2019): the CNN's sensitivity at the readers' mean specificity.

Reading a value off the CNN's empirical ROC curve: the CNN calls a case positive when its score
is at or above a threshold, and only thresholds it can actually use count (no interpolation
between corners). "Specificity at sensitivity s" is the highest specificity among thresholds
whose sensitivity is at least s; that threshold is the k-th highest score of the positives,
k = ceil(s * positives). "Sensitivity at specificity p" is the highest sensitivity among
thresholds whose specificity is at least p. Both are conservative for the CNN: it must match
the readers' sensitivity (or specificity) in full, never by a fraction of a case.

Intervals come from a paired, stratified case bootstrap (Efron & Tibshirani 1993): each
resample recomputes every reader's sensitivity and specificity on the resampled cases, the
readers' means, and the CNN's operating point at the resampled mean, so the interval carries
the uncertainty of the target as well as of the CNN; percentile intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from readerstudy.stats.bootstrap import percentile_ci

# Guards ceil() against round-off when a rate times a count is an integer (0.35 * 20).
_ROUND_OFF = 1e-9


@dataclass(frozen=True)
class OperatingPointComparison:
    """The CNN at the readers' mean ``matched`` rate ("sensitivity": Brinker 2019;
    "specificity": Tschandl 2019). cnn_value is the CNN's other rate there, reader_value the
    readers' mean of it, diff = cnn_value - reader_value; the CNN calls a case positive at
    scores >= cnn_threshold."""

    matched: str
    target: float
    target_ci: tuple[float, float]
    cnn_value: float
    cnn_ci: tuple[float, float]
    cnn_threshold: float
    reader_value: float
    diff: float
    diff_ci: tuple[float, float]
    n_readers: int
    n_bootstrap: int
    seed: int
    level: float


def _cumulative(counts: np.ndarray) -> np.ndarray:
    total = np.zeros((counts.shape[0], counts.shape[1] + 1))
    np.cumsum(counts, axis=1, out=total[:, 1:])
    return total


def _specificity_at(
    x_desc: np.ndarray,
    y_asc: np.ndarray,
    x_counts: np.ndarray,
    y_counts: np.ndarray,
    target: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per resample: the CNN's best specificity with sensitivity >= target, and its threshold.

    x_desc: positives' scores, descending; y_asc: negatives' scores, ascending; the counts are
    (resamples, cases) draw counts in those orders.
    """
    rows = np.arange(len(target))
    cum_x = _cumulative(x_counts)
    needed = np.ceil(target * cum_x[:, -1] - _ROUND_OFF)
    # the needed-th highest resampled positive score is the threshold
    position = np.minimum((cum_x[:, 1:] < needed[:, None]).sum(axis=1), len(x_desc) - 1)
    threshold = np.where(needed > 0, x_desc[position], np.inf)
    cum_y = _cumulative(y_counts)
    below = np.searchsorted(y_asc, threshold, side="left")
    return cum_y[rows, below] / cum_y[:, -1], threshold


def _sensitivity_at(
    x_asc: np.ndarray,
    y_desc: np.ndarray,
    x_counts: np.ndarray,
    y_counts: np.ndarray,
    target: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per resample: the CNN's best sensitivity with specificity >= target, and the cut: the
    (allowed false positives + 1)-th highest negative score, which the threshold must exceed
    (-inf when every case may be called positive)."""
    rows = np.arange(len(target))
    cum_y = _cumulative(y_counts)
    allowed = cum_y[:, -1] - np.ceil(target * cum_y[:, -1] - _ROUND_OFF)
    position = np.minimum((cum_y[:, 1:] < (allowed + 1)[:, None]).sum(axis=1), len(y_desc) - 1)
    cut = y_desc[position]
    cum_x = _cumulative(x_counts)
    at_or_below = cum_x[rows, np.searchsorted(x_asc, cut, side="right")]
    everything = allowed >= cum_y[:, -1]
    sensitivity = np.where(everything, 1.0, 1 - at_or_below / cum_x[:, -1])
    return sensitivity, np.where(everything, -np.inf, cut)


def _threshold_above(scores: np.ndarray, cut: float) -> float:
    """The lowest score above ``cut``: the threshold whose positives are the scores > cut."""
    if cut == -np.inf:
        return -np.inf
    above = scores[scores > cut]
    return float(above.min()) if len(above) else float("inf")


def specificity_at_sensitivity(
    truth: np.ndarray, scores: np.ndarray, sensitivity: float
) -> tuple[float, float]:
    """The highest specificity of the empirical ROC curve with sensitivity >= ``sensitivity``
    and the threshold (score >= threshold is positive) giving it (Brinker et al. 2019)."""
    positive = np.asarray(truth, dtype=bool)
    x_desc = np.sort(scores[positive])[::-1]
    y_asc = np.sort(scores[~positive])
    spec, threshold = _specificity_at(
        x_desc, y_asc, np.ones((1, len(x_desc))), np.ones((1, len(y_asc))), np.array([sensitivity])
    )
    return float(spec[0]), float(threshold[0])


def sensitivity_at_specificity(
    truth: np.ndarray, scores: np.ndarray, specificity: float
) -> tuple[float, float]:
    """The highest sensitivity of the empirical ROC curve with specificity >= ``specificity``
    and the threshold (score >= threshold is positive) giving it (Tschandl et al. 2019)."""
    positive = np.asarray(truth, dtype=bool)
    x_asc = np.sort(scores[positive])
    y_desc = np.sort(scores[~positive])[::-1]
    sens, cut = _sensitivity_at(
        x_asc, y_desc, np.ones((1, len(x_asc))), np.ones((1, len(y_desc))), np.array([specificity])
    )
    return float(sens[0]), _threshold_above(np.asarray(scores, dtype=np.float64), float(cut[0]))


def _reader_means(
    counts: np.ndarray, calls: np.ndarray, graded: np.ndarray, complete: bool
) -> np.ndarray:
    """Per resample, the readers' mean rate: calls (readers, cases) are the correct calls among
    the cases of one class, graded marks which of them each reader read."""
    weights = counts.astype(np.float64)
    hits = weights @ (calls & graded).T.astype(np.float64)
    if complete:
        return hits.mean(axis=1) / weights.sum(axis=1)
    read = weights @ graded.T.astype(np.float64)
    valid = read > 0
    # A resample in which no reader read a case of this class has no mean rate (NaN).
    rates = np.divide(hits, read, out=np.zeros_like(hits), where=valid)
    n_valid = valid.sum(axis=1)
    return np.divide(
        rates.sum(axis=1), n_valid, out=np.full(len(n_valid), np.nan), where=n_valid > 0
    )


def compare_operating_points(
    truth: np.ndarray,
    cnn_scores: np.ndarray,
    decisions: np.ndarray,
    graded: np.ndarray,
    counts: np.ndarray,
    *,
    seed: int,
    level: float = 0.95,
) -> tuple[OperatingPointComparison, OperatingPointComparison]:
    """Brinker (2019) and Tschandl (2019) comparisons with paired bootstrap CIs.

    decisions and graded are (readers, cases) booleans (True = biopsy; True = read) for the
    readers in the average reader; counts is the (resamples, cases) stratified bootstrap used
    for every interval, so the two comparisons and the CNN's AUC share their resamples.
    """
    positive = np.asarray(truth, dtype=bool)
    complete = bool(graded.all())
    pos_order = np.argsort(cnn_scores[positive], kind="stable")
    neg_order = np.argsort(cnn_scores[~positive], kind="stable")
    x_asc = cnn_scores[positive][pos_order]
    y_asc = cnn_scores[~positive][neg_order]
    # Row 0 is the study itself (every case once); the others are the bootstrap resamples.
    x_counts = np.vstack([np.ones(len(x_asc)), counts[:, positive][:, pos_order]])
    y_counts = np.vstack([np.ones(len(y_asc)), counts[:, ~positive][:, neg_order]])
    sensitivity = _reader_means(
        x_counts, decisions[:, positive][:, pos_order], graded[:, positive][:, pos_order], complete
    )
    specificity = _reader_means(
        y_counts,
        ~decisions[:, ~positive][:, neg_order],
        graded[:, ~positive][:, neg_order],
        complete,
    )
    cnn_spec, spec_threshold = _specificity_at(
        x_asc[::-1], y_asc, x_counts[:, ::-1], y_counts, sensitivity
    )
    cnn_sens, sens_cut = _sensitivity_at(
        x_asc, y_asc[::-1], x_counts, y_counts[:, ::-1], specificity
    )
    n_bootstrap = counts.shape[0]
    n_readers = decisions.shape[0]

    def comparison(
        matched: str,
        target: np.ndarray,
        cnn: np.ndarray,
        threshold: float,
        readers: np.ndarray,
    ) -> OperatingPointComparison:
        return OperatingPointComparison(
            matched=matched,
            target=float(target[0]),
            target_ci=percentile_ci(target[1:], level),
            cnn_value=float(cnn[0]),
            cnn_ci=percentile_ci(cnn[1:], level),
            cnn_threshold=threshold,
            reader_value=float(readers[0]),
            diff=float(cnn[0] - readers[0]),
            diff_ci=percentile_ci(cnn[1:] - readers[1:], level),
            n_readers=n_readers,
            n_bootstrap=n_bootstrap,
            seed=seed,
            level=level,
        )

    brinker = comparison(
        "sensitivity", sensitivity, cnn_spec, float(spec_threshold[0]), specificity
    )
    tschandl = comparison(
        "specificity",
        specificity,
        cnn_sens,
        _threshold_above(cnn_scores, float(sens_cut[0])),
        sensitivity,
    )
    return brinker, tschandl
