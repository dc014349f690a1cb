"""Unaided against aided reading as two modalities: Obuchowski-Rockette-Hillis MRMC on the AUC
of the ratings or on the sensitivity and specificity of the management decision.

The figure of merit of reader j in modality i is, as MRMCaov's metrics (Smith & Hillis,
``R/metrics.R``): ``auc``, the empirical AUC of the ratings (``empirical_auc``);
``sensitivity``, the share of positive cases the reader's decision calls positive
(``binary_sens``); ``specificity``, the share of negative cases called negative
(``binary_spec``). The error covariances of the figures of merit come from the case jackknife,
MRMCaov's default for every metric (``mrmc(..., method = jackknife)``, ``R/jackknife.R``):
the metric is recomputed without each case in turn, and the covariance is (K - 1) / K times
the cross-products of the leave-one-out values about their means (Efron 1981;
``mrmc.jackknife_covariance``). For sensitivity MRMCaov jackknifes over the positive cases
only, and for specificity over the negatives only (``preprocess()`` in ``R/utils.R``), so
K is the size of that class; leaving out a case of the other class would not change the
metric anyway, and only K differs.

The Obuchowski-Rockette tests (random readers and cases with Hillis 2007 ddf, fixed readers,
fixed cases) are those of ``mrmc.or_analysis``, the code ``or_hillis`` runs for the AUC; the
modalities enter as (aided, unaided), so every difference is aided minus unaided. On the Van
Dyke data with ``rating >= 3`` as the decision the sensitivity analysis gives the numbers the
MRMCaov paper prints (Smith & Hillis, ``docs/jss/MRMCaov.tex``, "Binary Metrics"); R with
MRMCaov is not installed here, so the tests compare with those printed numbers and with a
plain numpy jackknife written out in the test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from readerstudy.stats.mrmc import (
    ChiSquareTest,
    FTest,
    ModalityCi,
    OrComponents,
    auc_covariance,
    checked_cube,
    jackknife_covariance,
    or_analysis,
)
from readerstudy.stats.roc import (
    RocInputError,
    _placements,
    checked_scores,
    checked_truth,
    normal_quantile,
)

FigureOfMerit = Literal["auc", "sensitivity", "specificity"]
FIGURES_OF_MERIT: tuple[str, ...] = ("auc", "sensitivity", "specificity")


@dataclass(frozen=True)
class FomCovariance:
    """Figures of merit (k,) of k raters on shared cases and their jackknife covariance."""

    metric: str
    value: np.ndarray
    covariance: np.ndarray


@dataclass(frozen=True)
class ReaderChange:
    """One reader's aided minus unaided figure of merit, with the fixed-reader normal CI:
    se = sqrt(Var(aided) + Var(unaided) - 2 Cov) from the case jackknife (MRMCaov's
    reader-specific comparisons under fixed readers)."""

    reader: str
    unaided: float
    aided: float
    change: float
    se: float
    z: float
    p: float
    ci: tuple[float, float]


@dataclass(frozen=True)
class AidedMrmc:
    """Obuchowski-Rockette-Hillis analysis of aided against unaided reading.

    Every test's ``diff`` is the mean change, aided minus unaided; ``rrrc.ci`` is its CI for
    random readers and cases (the headline), ``frrc`` and ``rrfc`` fix readers or cases.
    unaided_ci / aided_ci: each modality's reader-mean with its random-reader, random-case CI
    (Hillis 2007), clipped to [0, 1] as MRMCaov; their ``auc`` field holds the figure of merit.
    """

    metric: str
    readers: tuple[str, ...]
    n_cases: int
    n_positive: int
    n_negative: int
    unaided: np.ndarray  # (readers,)
    aided: np.ndarray  # (readers,)
    reader_changes: tuple[ReaderChange, ...]
    mean_unaided: float
    mean_aided: float
    mean_change: float
    rrrc: FTest
    frrc: ChiSquareTest
    rrfc: FTest
    components: OrComponents
    ms_t: float
    ms_r: float
    ms_tr: float
    unaided_ci: ModalityCi
    aided_ci: ModalityCi
    cov_method: str


def _checked_metric(metric: str) -> None:
    if metric not in FIGURES_OF_MERIT:
        raise ValueError(f"metric must be one of {FIGURES_OF_MERIT}, got {metric!r}")


def _checked_decisions(values: np.ndarray, name: str) -> np.ndarray:
    if not np.isin(values, (0.0, 1.0)).all():
        raise RocInputError(f"{name} must be 0/1 decisions for a binary figure of merit")
    return values


def figure_of_merit(metric: FigureOfMerit, positive: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The figure of merit (k,) of each row of ``matrix`` (k, cases) against ``positive``:
    empirical AUC (Mann-Whitney, ties one half), or the share of positives called positive
    (sensitivity) or of negatives called negative (specificity), as MRMCaov's
    ``empirical_auc``, ``binary_sens`` and ``binary_spec``."""
    if metric == "auc":
        return _placements(positive, matrix)[0]
    if metric == "sensitivity":
        return np.asarray(matrix[:, positive].mean(axis=1))
    if metric == "specificity":
        return np.asarray(1.0 - matrix[:, ~positive].mean(axis=1))
    _checked_metric(metric)
    raise AssertionError  # unreachable: _checked_metric raised


def jackknife_fom_covariance(
    truth: ArrayLike,
    ratings: ArrayLike,
    metric: FigureOfMerit,
    *,
    name: str = "ratings",
    refit: bool = False,
) -> FomCovariance:
    """Figures of merit of the rows of ``ratings`` (k, cases) and their case-jackknife
    covariance: the metric recomputed without each case in turn (Efron 1981), by refitting
    as MRMCaov's ``jackknife()`` does, so any metric works. Binary metrics take 0/1
    decisions and, as MRMCaov (``preprocess()`` in ``R/utils.R``: ``binary_sens`` keeps the
    positive cases, ``binary_spec`` the negatives), jackknife over the cases of their class
    only: K is then the number of positives (negatives) in (K - 1) / K.

    For the AUC the leave-one-out values follow without refitting from the placement values
    (``mrmc.auc_covariance``, the same numbers in O(cases)); ``refit=True`` recomputes them
    one case at a time like the binary metrics (slow on large panels; the tests use it).
    """
    _checked_metric(metric)
    positive = checked_truth(truth)
    matrix = checked_scores(positive, ratings, name=name, rows=True)
    if metric == "auc" and not refit:
        closed = auc_covariance(positive, matrix, "jackknife")
        return FomCovariance(metric=metric, value=closed.auc, covariance=closed.covariance)
    if metric == "auc":
        used = np.ones(len(positive), dtype=bool)
    else:
        _checked_decisions(matrix, name)
        used = positive if metric == "sensitivity" else ~positive
    positive, matrix = positive[used], matrix[:, used]
    m = int(positive.sum())
    n = len(positive) - m
    if (metric == "auc" and min(m, n) < 2) or len(positive) < 2:
        raise RocInputError(
            f"the jackknife of {metric} needs at least two cases of each class it uses "
            f"(got {m} positive and {n} negative)"
        )
    keep = np.ones(len(positive), dtype=bool)
    leave_out = np.empty((matrix.shape[0], len(positive)))
    for case in range(len(positive)):
        keep[case] = False
        leave_out[:, case] = figure_of_merit(metric, positive[keep], matrix[:, keep])
        keep[case] = True
    return FomCovariance(
        metric=metric,
        value=figure_of_merit(metric, positive, matrix),
        covariance=jackknife_covariance(leave_out),
    )


def _clipped(ci: ModalityCi) -> ModalityCi:
    lo, hi = ci.ci
    return ModalityCi(auc=ci.auc, se=ci.se, df=ci.df, ci=(float(max(lo, 0.0)), float(min(hi, 1.0))))


def _reader_change(
    reader: str, aided: float, unaided: float, variance: float, level: float
) -> ReaderChange:
    change = aided - unaided
    se = float(np.sqrt(max(variance, 0.0)))
    infinite = 0.0 if change == 0 else float(np.sign(change) * np.inf)
    z = change / se if se > 0 else infinite
    half = normal_quantile(level) * se
    return ReaderChange(
        reader=reader,
        unaided=unaided,
        aided=aided,
        change=change,
        se=se,
        z=float(z),
        p=float(2 * special.ndtr(-abs(z))),
        ci=(change - half, change + half),
    )


def aided_mrmc(
    truth: ArrayLike,
    unaided: ArrayLike,
    aided: ArrayLike,
    *,
    metric: FigureOfMerit = "sensitivity",
    readers: Sequence[str] | None = None,
    level: float = 0.95,
) -> AidedMrmc:
    """Aided against unaided reading by the Obuchowski-Rockette model (Obuchowski & Rockette
    1995) with Hillis (2007) degrees of freedom and case-jackknife covariances, on the AUC of
    the ratings or the sensitivity / specificity of the decisions, as MRMCaov's
    ``mrmc(binary_sens(truth, decision), treatment, reader, case)`` (Smith & Hillis).

    ``unaided`` and ``aided`` are (readers, cases): ratings for ``auc``, 0/1 decisions
    (1 = biopsy/treat) for ``sensitivity`` and ``specificity``; every reader read every case
    in both phases. Reports per-reader changes with fixed-reader CIs and the mean change with
    the RRRC F test and CI.
    """
    cube = checked_cube(np.stack([np.asarray(aided), np.asarray(unaided)]))
    _, r, n_cases = cube.shape
    names = tuple(readers) if readers is not None else tuple(f"reader{j + 1}" for j in range(r))
    if len(names) != r:
        raise RocInputError(f"{len(names)} reader names for {r} readers")
    estimate = jackknife_fom_covariance(truth, cube.reshape(2 * r, n_cases), metric)
    fom = estimate.value.reshape(2, r)
    result = or_analysis(fom, estimate.covariance, "jackknife", level)
    c = estimate.covariance
    changes = tuple(
        _reader_change(
            names[j],
            float(fom[0, j]),
            float(fom[1, j]),
            float(c[j, j] + c[r + j, r + j] - 2 * c[j, r + j]),
            level,
        )
        for j in range(r)
    )
    m = int(np.asarray(truth).astype(bool).sum())
    return AidedMrmc(
        metric=metric,
        readers=names,
        n_cases=n_cases,
        n_positive=m,
        n_negative=n_cases - m,
        unaided=fom[1].copy(),
        aided=fom[0].copy(),
        reader_changes=changes,
        mean_unaided=float(result.mean_auc[1]),
        mean_aided=float(result.mean_auc[0]),
        mean_change=result.rrrc.diff,
        rrrc=result.rrrc,
        frrc=result.frrc,
        rrfc=result.rrfc,
        components=result.components,
        ms_t=result.ms_t,
        ms_r=result.ms_r,
        ms_tr=result.ms_tr,
        unaided_ci=_clipped(result.modality_ci[1]),
        aided_ci=_clipped(result.modality_ci[0]),
        cov_method="jackknife",
    )
