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

from readerstudy.analysis.mrmc import (
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


def _power_arrays(
    pilot: Pilot,
    readers: int,
    cases: np.ndarray,
    effect: float,
    alpha: float,
    analysis: Analysis,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Power, ncp, ddf and critical value for one reader count over an array of case counts."""
    scale = pilot.n_cases / cases.astype(np.float64)
    c = max(pilot.cov_error, 0.0)
    between = pilot.var_error + (readers - 1) * c
    within = pilot.var_error - c
    if analysis not in ANALYSES:
        raise PlanningError(f"analysis must be one of {', '.join(ANALYSES)}; got {analysis!r}")
    rrfc_den = pilot.var_reader + scale * within  # E[MS(T*R)]-like: what RRFC tests against
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
        if np.isinf(ddf).any():  # no reader variability at all: the F is a chi-square
            ddf = np.full_like(den, np.inf)
    elif analysis == "frrc":
        ddf = np.full_like(den, np.inf)
    else:
        ddf = np.full_like(den, float(readers - 1))
    ncp = readers * effect**2 / den
    if np.isinf(ddf).all():
        critical = np.full_like(den, float(stats.chi2.isf(alpha, 1)))
        power = stats.ncx2.sf(critical, 1, ncp)
    else:
        critical = stats.f.isf(alpha, 1, ddf)
        # scipy 1.17's ncf.sf returns a negative number at ncp = 0; the central F is exact.
        power = np.where(ncp > 0, stats.ncf.sf(critical, 1, ddf, ncp), stats.f.sf(critical, 1, ddf))
    return np.asarray(power), ncp, ddf, np.asarray(critical)


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
    power, ncp, ddf, critical = _power_arrays(
        pilot, readers, np.array([cases]), delta, alpha, analysis
    )
    return PowerResult(
        readers=readers,
        cases=cases,
        power=float(power[0]),
        ncp=float(ncp[0]),
        ddf=float(ddf[0]),
        critical=float(critical[0]),
    )


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
    # Every K in turn, as RJafroc, not a bisection: power need not rise with K everywhere
    # (ddf falls as K grows). Most studies need under a thousand cases: try those first.
    for first, last in ((2, min(1000, max_cases)), (1001, max_cases)):
        if first > last:
            continue
        grid = np.arange(first, last + 1)
        powers, ncp, ddf, critical = _power_arrays(pilot, readers, grid, delta, alpha, analysis)
        enough = np.flatnonzero(powers > power)
        if len(enough):
            i = int(enough[0])
            return PowerResult(
                readers=readers,
                cases=int(grid[i]),
                power=float(powers[i]),
                ncp=float(ncp[i]),
                ddf=float(ddf[i]),
                critical=float(critical[i]),
            )
    return None


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
    rows = []
    for j in readers:
        for k in cases:
            rows.append(power_given_jk(pilot, j, k, effect=effect, alpha=alpha, analysis=analysis))
    return rows
