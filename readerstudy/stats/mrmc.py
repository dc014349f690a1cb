"""Multi-reader multi-case ROC analysis: Obuchowski-Rockette with Hillis degrees of freedom.

Two modalities read by the same readers on the same cases (Obuchowski & Rockette 1995, with
the denominator degrees of freedom of Hillis 2007 and the fixed-reader / fixed-case analyses of
Hillis et al. 2005 and 2008), and a single algorithm against a reader panel (Hillis 2007,
section 5.3; RJafroc's ``StCadVsRad`` methods "1T-RRRC" and "1T-RRFC"). The figure of merit
is the empirical (trapezoidal, Wilcoxon) AUC. The error covariances of the AUCs come from the
case jackknife (as the Iowa OR-DBM MRMC program and RJafroc) or from DeLong's method (as
MRMCaov's ``cov = DeLong``).

The jackknife AUCs need no refitting: leaving out positive case i gives
(m * AUC - V10_i) / (m - 1), and leaving out negative case j gives (n * AUC - V01_j) / (n - 1),
where V10 and V01 are DeLong's placement values (Quenouille-Tukey jackknife, O(cases)).

``or_analysis`` runs the tests from any figure of merit and its covariance (the aided-reading
analysis of sensitivity and specificity uses it). The module stays one file past 400 lines
because the two-modality and the algorithm-vs-readers analyses share these pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from readerstudy.stats.roc import RocInputError, _placements, checked_scores, checked_truth

CovarianceMethod = Literal["jackknife", "delong"]
COVARIANCE_METHODS: tuple[str, ...] = ("jackknife", "delong")


@dataclass(frozen=True)
class AucCovariance:
    """Empirical AUCs (k,) of k ratings on shared cases and their error covariance (k, k)."""

    auc: np.ndarray
    covariance: np.ndarray
    method: str


@dataclass(frozen=True)
class OrComponents:
    """Obuchowski-Rockette variance components and error covariances (Hillis 2005, Table I).

    cov1: same reader, different modalities; cov2: different readers, same modality;
    cov3: different readers, different modalities. ANOVA estimates, which can be negative.
    """

    var_r: float
    var_tr: float
    cov1: float
    cov2: float
    cov3: float
    var_error: float


@dataclass(frozen=True)
class FTest:
    """An F test of equal modality AUCs with the CI of the first-minus-second difference."""

    f: float
    ndf: float
    ddf: float
    p: float
    diff: float
    se: float
    ci: tuple[float, float]


@dataclass(frozen=True)
class ChiSquareTest:
    """The fixed-reader chi-square test with the normal CI of the difference."""

    chi2: float
    df: float
    p: float
    diff: float
    se: float
    ci: tuple[float, float]


@dataclass(frozen=True)
class ModalityCi:
    """A modality's reader-mean AUC with its random-reader, random-case CI (Hillis 2007)."""

    auc: float
    se: float
    df: float
    ci: tuple[float, float]


@dataclass(frozen=True)
class OrResult:
    """Obuchowski-Rockette-Hillis analysis of two modalities (first minus second)."""

    auc: np.ndarray  # (modalities, readers)
    mean_auc: np.ndarray  # (modalities,)
    cov_method: str
    ms_t: float
    ms_r: float
    ms_tr: float
    components: OrComponents
    rrrc: FTest
    frrc: ChiSquareTest
    rrfc: FTest
    modality_ci: tuple[ModalityCi, ...]


@dataclass(frozen=True)
class TTest:
    """A t test of the reader-mean minus algorithm AUC difference."""

    t: float
    df: float
    p: float
    diff: float
    se: float
    ci: tuple[float, float]


@dataclass(frozen=True)
class AlgorithmVsReaders:
    """A single algorithm against a reader panel (Hillis 2007, section 5.3).

    diff = reader mean AUC - algorithm AUC; var_error and cov2 are those of the reader-minus-
    algorithm AUC differences, var_r the sample variance of the reader AUCs.
    """

    algorithm_auc: float
    reader_auc: np.ndarray
    reader_mean_auc: float
    diff: float
    cov_method: str
    var_r: float
    var_error: float
    cov2: float
    rrrc: TTest
    rrfc: TTest


def jackknife_covariance(leave_out: np.ndarray) -> np.ndarray:
    """Jackknife covariance (k, k) of k statistics from their leave-one-case-out values
    (k, K): (K - 1) / K times the sum of cross-products about their means over the K cases
    (Efron 1981). The one jackknife of the MRMC analyses: the Iowa OR-DBM MRMC program,
    RJafroc and MRMCaov's ``jackknife()`` compute the same."""
    cases = leave_out.shape[1]
    centred = leave_out - leave_out.mean(axis=1, keepdims=True)
    return np.asarray(centred @ centred.T * (cases - 1) / cases)


def auc_covariance(
    truth: ArrayLike, ratings: ArrayLike, method: CovarianceMethod = "jackknife"
) -> AucCovariance:
    """Empirical AUCs of the rows of ratings (k, n_cases) and their error covariance.

    ``jackknife``: (K - 1) / K times the sum of cross-products of the leave-one-case-out AUCs
    about their mean, over all K cases (Efron 1981; as Iowa OR-DBM MRMC and RJafroc).
    ``delong``: DeLong et al. (1988), S10 / m + S01 / n.
    """
    positive = checked_truth(truth)
    matrix = checked_scores(positive, ratings, name="ratings", rows=True)
    auc, v10, v01 = _placements(positive, matrix)
    m, n = v10.shape[1], v01.shape[1]
    if method == "jackknife":
        if m < 2 or n < 2:
            raise RocInputError("the jackknife needs at least two positive and two negative cases")
        leave_out = np.concatenate(
            [(m * auc[:, None] - v10) / (m - 1), (n * auc[:, None] - v01) / (n - 1)], axis=1
        )
        covariance = jackknife_covariance(leave_out)
    elif method == "delong":
        s10 = np.atleast_2d(np.cov(v10)) if m > 1 else np.zeros((len(auc), len(auc)))
        s01 = np.atleast_2d(np.cov(v01)) if n > 1 else np.zeros((len(auc), len(auc)))
        covariance = s10 / m + s01 / n
    else:
        raise ValueError(f"cov must be one of {COVARIANCE_METHODS}, got {method!r}")
    return AucCovariance(auc=auc, covariance=covariance, method=method)


def _t_ci(centre: float, se: float, df: float, level: float) -> tuple[float, float]:
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    return centre - half, centre + half


def _mean_off_diagonal(block: np.ndarray) -> float:
    size = block.shape[0]
    if size < 2:
        return 0.0
    return float((block.sum() - np.trace(block)) / (size * (size - 1)))


def or_components(
    auc: np.ndarray, covariance: np.ndarray
) -> tuple[OrComponents, float, float, float]:
    """OR variance components and the mean squares MS(T), MS(R), MS(T*R) of an AUC table.

    Obuchowski & Rockette (1995); method-of-moments components as Hillis, Obuchowski & Berbaum
    (2011, eq. 9) and Hillis (2014, the "marginal means" paper, p. 333):
    Var(TR) = MS(T*R) - Var(E) + Cov1 + max(Cov2 - Cov3, 0) and
    Var(R) = [MS(R) - Var(TR) - Var(E) - (t-1) Cov1 + Cov2 + (t-1) Cov3] / t.
    These are the components RJafroc 2.1.3 (``UtilOrVarCov``) and MRMCaov report. The
    max() keeps Var(TR) consistent with the denominator MS(T*R) + r max(Cov2 - Cov3, 0) of
    the RRRC F test. The Iowa OR-DBM MRMC 2.51 program omits it (Cov2 - Cov3 unclipped), so
    its Var(TR) and Var(R) differ from these wherever Cov2 < Cov3 (equal otherwise, as on the
    Van Dyke data). The F tests do not use Var(TR); the power calculations (``power``) do.
    ``auc`` is (t, r) and ``covariance`` (t r, t r) in modality-major order.
    """
    t, r = auc.shape
    cov = covariance.reshape(t, r, t, r)
    same_modality = [cov[i, :, i, :] for i in range(t)]
    var_error = float(np.mean([np.trace(block) / r for block in same_modality]))
    cov2 = float(np.mean([_mean_off_diagonal(block) for block in same_modality]))
    cross = [cov[i, :, k, :] for i in range(t) for k in range(t) if i != k]
    cov1 = float(np.mean([np.trace(block) / r for block in cross]))
    cov3 = float(np.mean([_mean_off_diagonal(block) for block in cross]))
    grand = auc.mean()
    ms_t = float(r * ((auc.mean(axis=1) - grand) ** 2).sum() / (t - 1))
    ms_r = float(t * ((auc.mean(axis=0) - grand) ** 2).sum() / (r - 1))
    interaction = auc - auc.mean(axis=1, keepdims=True) - auc.mean(axis=0, keepdims=True) + grand
    ms_tr = float((interaction**2).sum() / ((t - 1) * (r - 1)))
    var_tr = ms_tr - var_error + cov1 + max(cov2 - cov3, 0.0)
    components = OrComponents(
        var_r=(ms_r - var_tr - var_error - (t - 1) * cov1 + cov2 + (t - 1) * cov3) / t,
        var_tr=var_tr,
        cov1=cov1,
        cov2=cov2,
        cov3=cov3,
        var_error=var_error,
    )
    return components, ms_t, ms_r, ms_tr


def or_hillis(
    truth: ArrayLike,
    ratings: ArrayLike,
    *,
    cov: CovarianceMethod = "jackknife",
    level: float = 0.95,
) -> OrResult:
    """Obuchowski-Rockette analysis of two modalities with Hillis (2007) degrees of freedom.

    ``ratings`` is (2 modalities, readers, cases), every reader reading every case in both.
    Random readers and cases (RRRC): F = MS(T) / [MS(T*R) + r max(Cov2 - Cov3, 0)] with
    ddf_H = denominator^2 / [MS(T*R)^2 / ((t-1)(r-1))] (Hillis 2007). Fixed readers (FRRC):
    chi2 = (t-1) MS(T) / [Var(E) - Cov1 + (r-1) max(Cov2 - Cov3, 0)] (Hillis et al. 2005).
    Fixed cases (RRFC): F = MS(T) / MS(T*R) on (t-1, (t-1)(r-1)) df (Hillis et al. 2008).
    These are the Iowa OR-DBM MRMC 2.51 "Analysis 1-3" results; the variance components are
    RJafroc's (see ``or_components`` for where Iowa 2.51 prints other ones).
    """
    cube = checked_cube(ratings)
    t, r, n_cases = cube.shape
    estimate = auc_covariance(truth, cube.reshape(t * r, n_cases), cov)
    return or_analysis(estimate.auc.reshape(t, r), estimate.covariance, cov, level)


def checked_cube(ratings: ArrayLike) -> np.ndarray:
    """``ratings`` as a float (2 modalities, readers >= 2, cases) array, or RocInputError."""
    cube = np.asarray(ratings, dtype=np.float64)
    if cube.ndim != 3:
        raise RocInputError("ratings must be (modalities, readers, cases)")
    t, r, _ = cube.shape
    if t != 2:
        raise RocInputError(f"the OR analysis compares two modalities; got {t}")
    if r < 2:
        raise RocInputError(f"the OR analysis needs at least two readers; got {r}")
    return cube


def or_analysis(
    auc: np.ndarray, covariance: np.ndarray, cov_method: str, level: float = 0.95
) -> OrResult:
    """The Obuchowski-Rockette-Hillis tests of ``or_hillis`` from any figure of merit: ``auc``
    (2, readers) and its error covariance (2 r, 2 r, modality-major) estimated on the cases.

    The OR model holds for any reader-level figure of merit whose error covariances are
    estimated over cases (Obuchowski & Rockette 1995; Hillis 2014): MRMCaov's ``mrmc()``
    applies it unchanged to ``binary_sens`` / ``binary_spec`` with jackknife covariances
    (see ``readerstudy.stats.aided_mrmc``). The field names say AUC for the common case.
    """
    t, r = auc.shape
    components, ms_t, ms_r, ms_tr = or_components(auc, covariance)
    mean_auc = auc.mean(axis=1)
    diff = float(mean_auc[0] - mean_auc[1])
    df_tr = (t - 1) * (r - 1)

    den_rrrc = ms_tr + r * max(components.cov2 - components.cov3, 0.0)
    ddf_rrrc = den_rrrc**2 / (ms_tr**2 / df_tr) if ms_tr > 0 else float("inf")
    se_rrrc = float(np.sqrt(2 / r * den_rrrc))
    f_rrrc = ms_t / den_rrrc if den_rrrc > 0 else float("inf")
    rrrc = FTest(
        f=f_rrrc,
        ndf=t - 1,
        ddf=ddf_rrrc,
        p=float(stats.f.sf(f_rrrc, t - 1, ddf_rrrc)),
        diff=diff,
        se=se_rrrc,
        ci=_t_ci(diff, se_rrrc, ddf_rrrc, level),
    )

    den_frrc = (
        components.var_error
        - components.cov1
        + (r - 1) * max(components.cov2 - components.cov3, 0.0)
    )
    chi2 = (t - 1) * ms_t / den_frrc if den_frrc > 0 else float("inf")
    se_frrc = float(np.sqrt(2 / r * max(den_frrc, 0.0)))
    z = float(stats.norm.ppf(0.5 + level / 2))
    frrc = ChiSquareTest(
        chi2=chi2,
        df=t - 1,
        p=float(stats.chi2.sf(chi2, t - 1)),
        diff=diff,
        se=se_frrc,
        ci=(diff - z * se_frrc, diff + z * se_frrc),
    )

    f_rrfc = ms_t / ms_tr if ms_tr > 0 else float("inf")
    se_rrfc = float(np.sqrt(2 / r * ms_tr))
    rrfc = FTest(
        f=f_rrfc,
        ndf=t - 1,
        ddf=df_tr,
        p=float(stats.f.sf(f_rrfc, t - 1, df_tr)),
        diff=diff,
        se=se_rrfc,
        ci=_t_ci(diff, se_rrfc, df_tr, level),
    )

    cov_cube = covariance.reshape(t, r, t, r)
    modality_ci = []
    for i in range(t):
        ms_r_i = float(np.var(auc[i], ddof=1))
        den = ms_r_i + r * max(_mean_off_diagonal(cov_cube[i, :, i, :]), 0.0)
        df_i = den**2 / (ms_r_i**2 / (r - 1)) if ms_r_i > 0 else float("inf")
        se_i = float(np.sqrt(den / r))
        modality_ci.append(
            ModalityCi(
                auc=float(mean_auc[i]), se=se_i, df=df_i, ci=_t_ci(mean_auc[i], se_i, df_i, level)
            )
        )

    return OrResult(
        auc=auc,
        mean_auc=mean_auc,
        cov_method=cov_method,
        ms_t=ms_t,
        ms_r=ms_r,
        ms_tr=ms_tr,
        components=components,
        rrrc=rrrc,
        frrc=frrc,
        rrfc=rrfc,
        modality_ci=tuple(modality_ci),
    )


def _two_sided_t(diff: float, se: float, df: float, level: float) -> TTest:
    t_stat = diff / se if se > 0 else (0.0 if diff == 0 else float(np.sign(diff) * np.inf))
    return TTest(
        t=float(t_stat),
        df=float(df),
        p=float(2 * stats.t.sf(abs(t_stat), df)),
        diff=diff,
        se=se,
        ci=_t_ci(diff, se, df, level),
    )


def algorithm_vs_readers(
    truth: ArrayLike,
    algorithm_scores: ArrayLike,
    reader_ratings: ArrayLike,
    *,
    cov: CovarianceMethod = "jackknife",
    level: float = 0.95,
) -> AlgorithmVsReaders:
    """A single algorithm against a panel of readers on the same cases (Hillis 2007, 5.3).

    With D_j = AUC(reader j) - AUC(algorithm), as RJafroc's ``StCadVsRad``:
    1T-RRRC: t = mean(D) / sqrt([MS(R) + max(r Cov2, 0)] / r), MS(R) the sample variance of
    D, Cov2 the mean error covariance of D_j, D_j' (j != j'), and
    df = [MS(R) + max(r Cov2, 0)]^2 / [MS(R)^2 / (r - 1)].
    1T-RRFC: a one-sample t test of D on r - 1 df (cases fixed).
    """
    scores = np.asarray(algorithm_scores, dtype=np.float64)
    readers = np.atleast_2d(np.asarray(reader_ratings, dtype=np.float64))
    r = readers.shape[0]
    if r < 2:
        raise RocInputError(f"the algorithm-vs-readers analysis needs two readers; got {r}")
    estimate = auc_covariance(truth, np.vstack([scores[None, :], readers]), cov)
    algorithm_auc = float(estimate.auc[0])
    reader_auc = estimate.auc[1:]
    # Covariance of the differences D_j = reader_j - algorithm.
    c = estimate.covariance
    diff_cov = c[1:, 1:] - c[1:, :1] - c[:1, 1:] + c[0, 0]
    var_error = float(np.trace(diff_cov) / r)
    cov2 = _mean_off_diagonal(diff_cov)
    differences = reader_auc - algorithm_auc
    diff = float(differences.mean())
    ms_r = float(np.var(differences, ddof=1))
    den = ms_r + max(r * cov2, 0.0)
    df_rrrc = den**2 / (ms_r**2 / (r - 1)) if ms_r > 0 else float("inf")
    return AlgorithmVsReaders(
        algorithm_auc=algorithm_auc,
        reader_auc=reader_auc,
        reader_mean_auc=float(reader_auc.mean()),
        diff=diff,
        cov_method=cov,
        var_r=float(np.var(reader_auc, ddof=1)),
        var_error=var_error,
        cov2=cov2,
        rrrc=_two_sided_t(diff, float(np.sqrt(den / r)), df_rrrc, level),
        rrfc=_two_sided_t(diff, float(np.sqrt(ms_r / r)), r - 1, level),
    )
