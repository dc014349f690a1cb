"""The mean over readers with its Student t interval: readers as a random sample, cases fixed.

The one-sample t interval and test (Student 1908) of per-reader values such as the change in
accuracy from unaided to aided reading; with the readers random and the cases fixed it is the
RRFC analysis of Hillis et al. (2008) for a single difference. ``aided_diagnosis`` and
``experience`` report it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats


@dataclass(frozen=True)
class MeanTCi:
    """Mean of n values, its standard error sd / sqrt(n), n - 1 df, the t CI and the two-sided
    p of mean = 0. se, CI and p are NaN below two values; p is NaN when se is 0 and mean 0."""

    n: int
    mean: float
    sd: float
    se: float
    df: int
    ci: tuple[float, float]
    p: float


def mean_t_ci(values: ArrayLike, level: float = 0.95) -> MeanTCi:
    """Mean with its one-sample Student t interval and test against 0 (Student 1908);
    the same numbers as ``scipy.stats.ttest_1samp(values, 0).confidence_interval(level)``."""
    x = np.asarray(values, dtype=np.float64).ravel()
    n = len(x)
    nan = float("nan")
    if n == 0:
        return MeanTCi(n=0, mean=nan, sd=nan, se=nan, df=0, ci=(nan, nan), p=nan)
    mean = float(x.mean())
    if n < 2:
        return MeanTCi(n=1, mean=mean, sd=nan, se=nan, df=0, ci=(nan, nan), p=nan)
    sd = float(x.std(ddof=1))
    se = sd / np.sqrt(n)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * se
    degenerate = nan if mean == 0 else 0.0  # no spread: a nonzero mean is certain
    p = float(2 * stats.t.sf(abs(mean / se), n - 1)) if se > 0 else degenerate
    return MeanTCi(
        n=n, mean=mean, sd=sd, se=float(se), df=n - 1, ci=(mean - half, mean + half), p=p
    )
