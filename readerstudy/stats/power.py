"""Power and sample size of a reader study, planned from a pilot's Obuchowski-Rockette
variance components: Hillis, Obuchowski & Berbaum (2011), "Power estimation for multireader
ROC methods: an updated and unified approach", as RJafroc 2.1.3's ``SsPowerGivenJK``,
``SsSampleSizeKGivenJ`` and ``SsPowerTable``; the single-algorithm design of Hillis (2007).

Both designs reduce to one reader's AUC difference D_j and three numbers of the pilot:

- two modalities (D_j = AUC_1j - AUC_2j): reader variance 2 Var(TR), error variance
  2 (Var - Cov1), error covariance of two readers 2 (Cov2 - Cov3), with the components of
  ``mrmc.or_components`` (Var(TR) clipped at 0, as RJafroc);
- one algorithm against a reader panel (Hillis 2007, section 5.3; D_j = AUC_j - AUC_alg):
  reader variance MS(R) - Var(D) + max(Cov2(D), 0) clipped at 0, error variance Var(D) and
  covariance Cov2(D) of the differences.

The error terms scale with K*/K (pilot cases over planned cases). For J planned readers, with
s2 the reader variance, v the error variance and c = max(covariance, 0):

- RRRC: den = s2 + (K*/K)(v + (J-1) c); F(1, ddf, ncp) with ncp = J d^2 / den and
  ddf = (J-1) den^2 / [s2 + (K*/K)(v - c)]^2 (Hillis et al. 2011, eq. 10);
- FRRC: chi-square(1, ncp) with den = (K*/K)(v + (J-1) c);
- RRFC: F(1, J-1, ncp) with den = s2 + (K*/K)(v - c).

For two modalities these are RJafroc 2.1.3's ``SsPowerGivenJKOrVarCom`` exactly (its den is
half of ours and its ncp J d^2 / (2 den)); the algorithm design equals the two-modality one
with the algorithm copied as the second modality, as the test itself does (Hillis 2007).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from readerstudy.stats.mrmc import (
    CovarianceMethod,
    OrComponents,
    algorithm_vs_readers,
    or_hillis,
)

Analysis = Literal["rrrc", "frrc", "rrfc"]
ANALYSES: tuple[str, ...] = ("rrrc", "frrc", "rrfc")
Design = Literal["two-modality", "algorithm-vs-readers"]
# RJafroc searches up to 2000 cases; a vectorised search can afford more.
MAX_CASES = 20000


class PlanningError(ValueError):
    """The pilot or the request cannot give a power (a message for the user)."""


@dataclass(frozen=True)
class Pilot:
    """What a pilot study tells the planning: its size, its observed effect, the variance
    components as the analyses report them, and their reduction to one reader's difference."""

    design: Design
    n_readers: int
    n_cases: int
    observed_effect: float
    components: dict[str, float]
    var_reader: float
    var_error: float
    cov_error: float


@dataclass(frozen=True)
class PowerResult:
    """The power of one planned study with the noncentral distribution's parameters."""

    readers: int
    cases: int
    power: float
    ncp: float
    ddf: float  # inf for the fixed-reader chi-square
    critical: float


def pilot_from_or_components(
    components: OrComponents, *, n_readers: int, n_cases: int, effect: float
) -> Pilot:
    """A two-modality pilot given by its OR components, its size and its effect (RJafroc's
    ``SsPowerGivenJK(dataset = NULL, ...)``): published components, or ones averaged over
    simulated pilots."""
    c = components
    return Pilot(
        design="two-modality",
        n_readers=n_readers,
        n_cases=n_cases,
        observed_effect=effect,
        components=asdict(c),  # var_r, var_tr, cov1, cov2, cov3, var_error
        var_reader=2 * max(c.var_tr, 0.0),
        var_error=2 * (c.var_error - c.cov1),
        cov_error=2 * (c.cov2 - c.cov3),
    )


def two_modality_pilot(
    truth: ArrayLike, ratings: ArrayLike, *, cov: CovarianceMethod = "jackknife"
) -> Pilot:
    """The OR components of a (2 modalities, readers, cases) pilot (Hillis et al. 2011, eq. 9;
    RJafroc 2.1.3 ``UtilOrVarCov``); observed effect = first minus second modality."""
    result = or_hillis(truth, ratings, cov=cov)
    return pilot_from_or_components(
        result.components,
        n_readers=result.auc.shape[1],
        n_cases=np.asarray(ratings).shape[2],
        effect=float(result.mean_auc[0] - result.mean_auc[1]),
    )


def algorithm_pilot(
    truth: ArrayLike,
    algorithm_scores: ArrayLike,
    reader_ratings: ArrayLike,
    *,
    cov: CovarianceMethod = "jackknife",
) -> Pilot:
    """The single-treatment components of an algorithm-vs-readers pilot (Hillis 2007, 5.3):
    Var(D), Cov2(D) of the reader-minus-algorithm AUC differences and the reader variance
    MS(R) - Var(D) + max(Cov2(D), 0), by analogy with Hillis et al. (2011, eq. 9)."""
    result = algorithm_vs_readers(truth, algorithm_scores, reader_ratings, cov=cov)
    # AlgorithmVsReaders.var_r is MS(R): the sample variance of the reader AUCs, which is
    # that of the differences since the algorithm's AUC is common to all of them.
    var_reader = result.var_r - result.var_error + max(result.cov2, 0.0)
    return Pilot(
        design="algorithm-vs-readers",
        n_readers=len(result.reader_auc),
        n_cases=np.asarray(reader_ratings).shape[-1],
        observed_effect=result.diff,
        components={
            "ms_r": result.var_r,
            "var_r": var_reader,
            "var_error": result.var_error,
            "cov2": result.cov2,
        },
        var_reader=max(var_reader, 0.0),
        var_error=result.var_error,
        cov_error=result.cov2,
    )


def _check(readers: int, cases: int, alpha: float) -> None:
    if readers < 2:
        raise PlanningError(f"a planned study needs at least two readers; got {readers}")
    if cases < 2:
        raise PlanningError(f"a planned study needs at least two cases; got {cases}")
    if not 0 < alpha < 1:
        raise PlanningError(f"alpha must lie strictly between 0 and 1; got {alpha}")


def _expected_ms_tr(pilot: Pilot, cases: np.ndarray) -> np.ndarray:
    """E[MS(T*R)] of the planned study (in the differences' units): what RRFC tests against
    and what the RRRC df divide by."""
    scale = pilot.n_cases / cases.astype(np.float64)
    return pilot.var_reader + scale * (pilot.var_error - max(pilot.cov_error, 0.0))


def _noncentrality(
    pilot: Pilot, readers: int, cases: np.ndarray, effect: float, analysis: Analysis
) -> tuple[np.ndarray, np.ndarray]:
    """The noncentrality and denominator df for one reader count over an array of case
    counts (inf df: the fixed-reader chi-square, or no reader variability at all)."""
    if analysis not in ANALYSES:
        raise PlanningError(f"analysis must be one of {', '.join(ANALYSES)}; got {analysis!r}")
    scale = pilot.n_cases / cases.astype(np.float64)
    between = pilot.var_error + (readers - 1) * max(pilot.cov_error, 0.0)
    rrfc_den = _expected_ms_tr(pilot, cases)
    den = {"rrrc": pilot.var_reader + scale * between, "frrc": scale * between, "rrfc": rrfc_den}[
        analysis
    ]
    if not (den > 0).all():
        raise PlanningError(
            f"the pilot's variance components give no positive variance of the {analysis} "
            "difference; a pilot with more readers or cases is needed"
        )
    if analysis == "rrrc":
        with np.errstate(divide="ignore"):
            ddf = (readers - 1) * den**2 / rrfc_den**2
    elif analysis == "frrc":
        ddf = np.full_like(den, np.inf)
    else:
        ddf = np.full_like(den, float(readers - 1))
    return readers * effect**2 / den, ddf


def _power(ncp: np.ndarray, ddf: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """P(F(1, ddf, ncp) > its level-alpha critical value), chi-square(1, ncp) where ddf is
    infinite; and the critical values."""
    finite = np.isfinite(ddf)
    safe_ddf = np.where(finite, ddf, 1.0)
    critical = np.where(finite, stats.f.isf(alpha, 1, safe_ddf), stats.chi2.isf(alpha, 1))
    # scipy 1.17's ncf.sf returns a negative number at ncp = 0; the central F is exact.
    f_power = np.where(
        ncp > 0, stats.ncf.sf(critical, 1, safe_ddf, ncp), stats.f.sf(critical, 1, safe_ddf)
    )
    power = np.where(finite, f_power, stats.ncx2.sf(critical, 1, ncp))
    return np.asarray(power, dtype=np.float64), np.asarray(critical, dtype=np.float64)


def _results(
    pilot: Pilot,
    readers: int,
    cases: np.ndarray,
    effect: float,
    alpha: float,
    analysis: Analysis,
) -> list[PowerResult]:
    ncp, ddf = _noncentrality(pilot, readers, cases, effect, analysis)
    power, critical = _power(ncp, ddf, alpha)
    return [
        PowerResult(
            readers=readers,
            cases=int(k),
            power=float(p),
            ncp=float(n),
            ddf=float(d),
            critical=float(c),
        )
        for k, p, n, d, c in zip(cases, power, ncp, ddf, critical, strict=True)
    ]


def power_given_jk(
    pilot: Pilot,
    readers: int,
    cases: int,
    *,
    effect: float | None = None,
    alpha: float = 0.05,
    analysis: Analysis = "rrrc",
) -> PowerResult:
    """The power of a study of J readers and K cases to detect ``effect`` (default: the
    pilot's observed difference) at two-sided level ``alpha``; RJafroc's ``SsPowerGivenJK``
    (Hillis et al. 2011)."""
    _check(readers, cases, alpha)
    delta = pilot.observed_effect if effect is None else effect
    return _results(pilot, readers, np.array([cases]), delta, alpha, analysis)[0]


def cases_needed(
    pilot: Pilot,
    readers: int,
    *,
    power: float = 0.8,
    effect: float | None = None,
    alpha: float = 0.05,
    analysis: Analysis = "rrrc",
    max_cases: int = MAX_CASES,
) -> PowerResult | None:
    """The fewest cases (from 2) whose power exceeds ``power`` with J readers, and that
    power; RJafroc's ``SsSampleSizeKGivenJ`` (Hillis et al. 2011). None when no K up to
    ``max_cases`` is enough (with cases fixed, more cases cannot beat reader variability)."""
    _check(readers, 2, alpha)
    if not 0 < power < 1:
        raise PlanningError(f"the target power must lie strictly between 0 and 1; got {power}")
    delta = pilot.observed_effect if effect is None else effect
    _noncentrality(pilot, readers, np.array([2, max_cases]), delta, analysis)  # den > 0 check
    return _first_enough(pilot, readers, 2, max_cases, delta, alpha, analysis, power)


# Intervals of at most this many case counts are scanned K by K.
_SCAN = 256


def _first_enough(
    pilot: Pilot,
    readers: int,
    low: int,
    high: int,
    effect: float,
    alpha: float,
    analysis: Analysis,
    target: float,
) -> PowerResult | None:
    """The first K in [low, high] whose power exceeds ``target``: the answer of RJafroc's
    K-by-K scan, found by branch and bound. Power rises with the noncentrality and with the
    denominator df, and both are monotone in K (den is linear in K*/K, and ddf the square
    of a ratio of two such terms), so the power at the larger of the two ends' ncp and the
    larger of their ddf bounds the power anywhere in between: an interval whose bound does
    not exceed the target holds no answer."""
    ends = np.array([low, high])
    ncp, ddf = _noncentrality(pilot, readers, ends, effect, analysis)
    ms_tr = _expected_ms_tr(pilot, ends)
    # The RRRC df blow up where E[MS(T*R)] crosses zero (a pilot with Var - Cov1 below
    # Cov2 - Cov3): no bound holds across that point, so such an interval is only split.
    monotone = analysis != "rrrc" or ms_tr[0] * ms_tr[1] > 0 or not ms_tr.any()
    if monotone:
        bound, _ = _power(np.array([ncp.max()]), np.array([ddf.max()]), alpha)
        if bound[0] <= target:
            return None
    if high - low < _SCAN:
        grid = np.arange(low, high + 1)
        for result in _results(pilot, readers, grid, effect, alpha, analysis):
            if result.power > target:
                return result
        return None
    middle = (low + high) // 2
    return _first_enough(
        pilot, readers, low, middle, effect, alpha, analysis, target
    ) or _first_enough(pilot, readers, middle + 1, high, effect, alpha, analysis, target)


def power_table(
    pilot: Pilot,
    readers: Iterable[int],
    cases: Sequence[int],
    *,
    effect: float | None = None,
    alpha: float = 0.05,
    analysis: Analysis = "rrrc",
) -> list[PowerResult]:
    """The power for every reader count and case count (RJafroc's ``SsPowerTable`` gives
    the cases per reader count; this is the grid a power curve is drawn from)."""
    rows: list[PowerResult] = []
    counts = np.asarray(cases)
    delta = pilot.observed_effect if effect is None else effect
    for j in readers:
        _check(j, int(counts.min()), alpha)
        rows += _results(pilot, j, counts, delta, alpha, analysis)
    return rows
