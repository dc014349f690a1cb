"""Seeded bootstraps: the stratified case bootstrap of the AUC and operating-point intervals,
and the two-way case-and-reader bootstrap of the panel statistics (``case_reader_counts``).

Each resample draws the positive cases with replacement from the positives and the negatives
from the negatives (Efron & Tibshirani 1993, ch. 6, stratified by truth), so every resample
keeps the study's prevalence and always defines an ROC curve. A resample is stored as case
counts (how often each case was drawn): statistics become weighted sums, and one count matrix
serves every statistic, which makes the comparisons paired.
"""

from __future__ import annotations

import numpy as np


def stratified_counts(positive: np.ndarray, n_bootstrap: int, seed: int) -> np.ndarray:
    """(n_bootstrap, n_cases) draw counts of a stratified case bootstrap (Efron 1979).

    Row b says how many times each case appears in resample b; the positives' counts sum to
    the number of positives and the negatives' to the number of negatives.
    """
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_bootstrap, len(positive)), dtype=np.int32)
    for stratum in (np.flatnonzero(positive), np.flatnonzero(~positive)):
        size = len(stratum)
        if size == 0:
            continue
        draws = rng.integers(0, size, size=(n_bootstrap, size), dtype=np.int64)
        draws += (size * np.arange(n_bootstrap, dtype=np.int64))[:, None]
        per_row = np.bincount(draws.ravel(), minlength=n_bootstrap * size)
        per_row = per_row.reshape(n_bootstrap, size)
        counts[:, stratum] = per_row
    return counts


def case_reader_counts(
    n_cases: int, n_readers: int, n_bootstrap: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draw counts of a two-way bootstrap of cases and readers: (n_bootstrap, n_cases) and
    (n_bootstrap, n_readers), cases and readers drawn with replacement independently.

    The case-and-reader bootstrap of MRMC studies (Obuchowski 1995; Beiden, Wagner & Campbell
    2000): a statistic recomputed on each resample's cases and readers varies with both, so
    its percentile interval reflects reader as well as case variability. Seeded; the cases
    are drawn first, then the readers.
    """
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    rng = np.random.default_rng(seed)
    case_draws = rng.integers(0, n_cases, size=(n_bootstrap, n_cases))
    reader_draws = rng.integers(0, n_readers, size=(n_bootstrap, n_readers))
    rows = np.arange(n_bootstrap)[:, None]
    case_counts = np.zeros((n_bootstrap, n_cases))
    np.add.at(case_counts, (rows, case_draws), 1.0)
    reader_counts = np.zeros((n_bootstrap, n_readers))
    np.add.at(reader_counts, (rows, reader_draws), 1.0)
    return case_counts, reader_counts


def percentile_ci(values: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile bootstrap interval (Efron & Tibshirani 1993, ch. 13); NaN resamples dropped."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    lo, hi = np.quantile(finite, [alpha, 1 - alpha])
    return float(lo), float(hi)
