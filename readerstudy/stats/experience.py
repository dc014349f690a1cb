"""Who benefits from the AI: the per-reader change (aided minus unaided accuracy, sensitivity
or AUC) by the reader's experience band.

Tschandl et al. (Nature Medicine 2020) found that good AI support helped the least experienced
dermatologists most. Given each reader's change and experience band, and the bands in order of
increasing experience, this reports:

- per band: the mean change with its Student t interval and n (``means.mean_t_ci``);
- an ordinal trend: the least-squares slope of change on the band's rank (0, 1, 2, ...) with
  its t interval on n - 2 df (the linear trend across ordered groups, e.g. Altman 1991,
  "Practical statistics for medical research", 9.6); a negative slope means the benefit falls
  with experience;
- the Jonckheere-Terpstra test of ordered alternatives (Terpstra 1952; Jonckheere 1954),
  rank-based, with a seeded Monte Carlo permutation p-value (readers' bands shuffled), which
  suits small bands and ties.

The band labels and their order come from the caller (the reader profiles define them).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from readerstudy.stats.means import MeanTCi, mean_t_ci


class ExperienceInputError(ValueError):
    """Changes and bands that cannot be analysed; the message names the problem."""


@dataclass(frozen=True)
class BandChange:
    """The mean change of the readers of one experience band (rank 0 = least experienced)."""

    band: Hashable
    rank: int
    change: MeanTCi


@dataclass(frozen=True)
class ExperienceTrend:
    """Least-squares line change = intercept + slope x rank; slope per band step with its t
    CI and two-sided p on n - 2 df. NaN where fewer than three readers or one band only."""

    n: int
    slope: float
    intercept: float
    se: float
    df: int
    ci: tuple[float, float]
    p: float


@dataclass(frozen=True)
class JonckheereTest:
    """Jonckheere-Terpstra statistic J (pairs of readers in increasing bands whose change
    increases, ties one half), its null mean, and the two-sided Monte Carlo permutation
    p-value of |J - mean| (with the +1 correction of Davison & Hinkley 1997, eq. 4.11)."""

    statistic: float
    expected: float
    p: float
    n_permutations: int
    seed: int


@dataclass(frozen=True)
class BenefitByExperience:
    """Every band of the given order (n = 0 where no reader has it), the trend and the test."""

    bands: tuple[BandChange, ...]
    trend: ExperienceTrend
    jonckheere: JonckheereTest


def _trend(rank: np.ndarray, change: np.ndarray, level: float) -> ExperienceTrend:
    n = len(change)
    nan = float("nan")
    if n < 3 or len(np.unique(rank)) < 2:
        return ExperienceTrend(
            n=n, slope=nan, intercept=nan, se=nan, df=max(n - 2, 0), ci=(nan, nan), p=nan
        )
    fit = stats.linregress(rank, change)
    half = float(stats.t.ppf(0.5 + level / 2, n - 2)) * float(fit.stderr)
    slope = float(fit.slope)
    return ExperienceTrend(
        n=n,
        slope=slope,
        intercept=float(fit.intercept),
        se=float(fit.stderr),
        df=n - 2,
        ci=(slope - half, slope + half),
        p=float(fit.pvalue),
    )


def _jonckheere(
    rank: np.ndarray, change: np.ndarray, n_permutations: int, seed: int
) -> JonckheereTest:
    # wins[a, b]: 1 when reader b's change exceeds reader a's, 1/2 on a tie.
    wins = (change[None, :] > change[:, None]) + 0.5 * (change[None, :] == change[:, None])

    def statistic(ranks: np.ndarray) -> np.ndarray:
        # ranks: (batch, readers); a batch of 256 keeps the (batch, n, n) mask small.
        out = np.empty(len(ranks))
        for start in range(0, len(ranks), 256):
            part = ranks[start : start + 256]
            ordered = part[:, :, None] < part[:, None, :]
            out[start : start + 256] = np.einsum("bij,ij->b", ordered, wins)
        return out

    observed = float(statistic(rank[None, :])[0])
    sizes = np.bincount(rank)
    expected = float((len(rank) ** 2 - (sizes**2).sum()) / 4)
    rng = np.random.default_rng(seed)
    shuffled = np.array([rng.permutation(rank) for _ in range(n_permutations)], dtype=np.intp)
    null = statistic(shuffled.reshape(n_permutations, len(rank)))
    extreme = int((np.abs(null - expected) >= abs(observed - expected) - 1e-12).sum())
    return JonckheereTest(
        statistic=observed,
        expected=expected,
        p=(extreme + 1) / (n_permutations + 1),
        n_permutations=n_permutations,
        seed=seed,
    )


def benefit_by_experience(
    change: ArrayLike,
    band: Sequence[Hashable],
    order: Sequence[Hashable],
    *,
    level: float = 0.95,
    n_permutations: int = 5000,
    seed: int = 2020,
) -> BenefitByExperience:
    """Mean change per experience band (Student t CIs), the least-squares slope of change on
    band rank with its t CI (linear trend across ordered groups), and the Jonckheere (1954) -
    Terpstra (1952) test with a Monte Carlo permutation p-value.

    ``change``: one value per reader (aided minus unaided); ``band``: each reader's band;
    ``order``: the bands from least to most experienced, e.g. ("<3", "3-10", ">10").
    """
    values = np.asarray(change, dtype=np.float64)
    if values.ndim != 1 or len(values) != len(band):
        raise ExperienceInputError(
            f"change must be one value per reader: got shape {values.shape} for {len(band)} bands"
        )
    if not np.isfinite(values).all():
        raise ExperienceInputError("change contains NaN or infinite values")
    position = {label: i for i, label in enumerate(order)}
    if len(position) != len(order):
        raise ExperienceInputError(f"the band order repeats a band: {list(order)}")
    unknown = [label for label in band if label not in position]
    if unknown:
        raise ExperienceInputError(
            f"band {unknown[0]!r} is not one of the ordered bands {list(order)}"
        )
    rank = np.array([position[label] for label in band], dtype=np.intp)
    bands = tuple(
        BandChange(band=label, rank=i, change=mean_t_ci(values[rank == i], level))
        for i, label in enumerate(order)
    )
    return BenefitByExperience(
        bands=bands,
        trend=_trend(rank, values, level),
        jonckheere=_jonckheere(rank, values, n_permutations, seed),
    )
