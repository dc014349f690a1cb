"""The whole reader-study analysis in one call: the CNN's curve with every reader on it.

``study_analysis`` is what the analysis pages, the JSON export and the demo call. Its
``to_dict()`` is JSON-serialisable (NaN and infinities become None) with these keys:

- ``n_cases``, ``n_positive``, ``n_negative``, ``level``, ``n_bootstrap``, ``seed``
- ``cnn``: ``auc``, ``delong_variance``, ``delong_ci`` [lo, hi], ``bootstrap_ci`` [lo, hi],
  ``roc``: {``fpr``, ``tpr``, ``thresholds``} (thresholds[0] is None: +inf, no case positive)
- ``readers``: a list, in input order, of {``reader``, ``n_cases``, ``n_positive``,
  ``n_negative``, ``sensitivity``, ``sensitivity_ci``, ``specificity``, ``specificity_ci``,
  ``auc``, ``auc_variance``, ``auc_ci``, ``cnn_auc`` (on the reader's cases),
  ``diff_vs_cnn`` (reader minus CNN), ``diff_ci``, ``z``, ``p``, ``position``
  ("below" / "on" / "above" the CNN's curve, or "undefined")}
  and ``partial`` (True when the reader did not grade every case)
- ``partial_readers``: the readers who did not grade every case; ``include_partial``: whether
  they count in the average reader and the operating-point comparisons (never in MRMC)
- ``average_reader``: {``n_readers``, ``sensitivity``, ``specificity``}
- ``curve_positions``: {``below``, ``on``, ``above``}
- ``brinker`` (CNN specificity at the readers' mean sensitivity) and ``tschandl`` (CNN
  sensitivity at the readers' mean specificity), each {``matched``, ``target``, ``target_ci``,
  ``cnn_value``, ``cnn_ci``, ``cnn_threshold``, ``reader_value``, ``diff``, ``diff_ci``,
  ``n_readers``}; None without a reader who graded both classes
- ``per_reader_matched``: per reader in the comparisons, {``reader``, ``n_cases``,
  ``sensitivity``, ``cnn_specificity_at_sensitivity``, ``specificity``,
  ``cnn_sensitivity_at_specificity``, ``outcome`` ("beat" / "tied" / "lost": the CNN's
  specificity at the reader's sensitivity against the reader's), ``outcome_at_specificity``}
- ``matched_summary`` (the CNN's specificity at each reader's sensitivity, Brinker 2019) and
  ``matched_summary_at_specificity`` (its sensitivity at each reader's specificity), each
  {``matched``, ``n_readers``, ``mean``, ``min``, ``max``, ``reader_mean``, ``beat``, ``tied``,
  ``lost``}
- ``mrmc_readers``: the readers who graded every case; ``mrmc``: None with fewer than two of
  them, else {``cov``, ``algorithm_auc``, ``reader_mean_auc``, ``diff`` (readers minus CNN),
  ``var_r``, ``var_error``, ``cov2``, ``rrrc``: {``t``, ``df``, ``p``, ``ci``},
  ``rrfc``: {``t``, ``df``, ``p``, ``ci``}}
- ``readers_rated``: False when the readers gave no confidence ratings (a diagnosis study
  read as a management one): their points stand, but their AUCs and MRMC are None
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from readerstudy.stats.bootstrap import percentile_ci, stratified_counts
from readerstudy.stats.matched import MatchedSummary, PerReaderComparison, per_reader_comparison
from readerstudy.stats.mrmc import (
    AlgorithmVsReaders,
    CovarianceMethod,
    TTest,
    algorithm_vs_readers,
)
from readerstudy.stats.operating_points import (
    OperatingPointComparison,
    compare_operating_points,
)
from readerstudy.stats.readers import (
    AverageReader,
    CurvePositions,
    ReaderInput,
    ReaderInputError,
    ReaderResult,
    average_reader,
    count_positions,
    reader_results,
    validate_reader,
)
from readerstudy.stats.roc import (
    AucCi,
    BootstrapCi,
    RocCurve,
    auc_ci,
    checked_scores,
    checked_truth,
    resampled_aucs,
    roc_curve,
)

DEFAULT_SEED = 20170125  # Esteva et al. 2017 was published on 25 January 2017


@dataclass(frozen=True)
class CnnResult:
    """The CNN's empirical ROC curve and AUC with DeLong and bootstrap intervals."""

    auc: AucCi
    bootstrap: BootstrapCi
    curve: RocCurve


@dataclass(frozen=True)
class StudyAnalysis:
    """Everything the study's figure and tables show; see the module docstring for to_dict."""

    n_cases: int
    n_positive: int
    n_negative: int
    level: float
    n_bootstrap: int
    seed: int
    cnn: CnnResult
    readers: tuple[ReaderResult, ...]
    average_reader: AverageReader
    curve_positions: CurvePositions
    brinker: OperatingPointComparison | None
    tschandl: OperatingPointComparison | None
    mrmc_readers: tuple[str, ...]
    mrmc: AlgorithmVsReaders | None
    partial_readers: tuple[str, ...]
    include_partial: bool
    per_reader: PerReaderComparison
    readers_rated: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (lists, floats, None for NaN / inf) under the documented keys."""
        return json_safe(
            {
                "n_cases": self.n_cases,
                "n_positive": self.n_positive,
                "n_negative": self.n_negative,
                "level": self.level,
                "n_bootstrap": self.n_bootstrap,
                "seed": self.seed,
                "cnn": {
                    "auc": self.cnn.auc.auc,
                    "delong_variance": self.cnn.auc.variance,
                    "delong_ci": list(self.cnn.auc.ci),
                    "bootstrap_ci": list(self.cnn.bootstrap.ci),
                    "roc": {
                        "fpr": self.cnn.curve.fpr,
                        "tpr": self.cnn.curve.tpr,
                        "thresholds": self.cnn.curve.thresholds,
                    },
                },
                "readers": [
                    {**_reader_dict(r), "partial": r.reader in self.partial_readers}
                    for r in self.readers
                ],
                "partial_readers": list(self.partial_readers),
                "include_partial": self.include_partial,
                "readers_rated": self.readers_rated,
                "average_reader": {
                    "n_readers": self.average_reader.n_readers,
                    "sensitivity": self.average_reader.sensitivity,
                    "specificity": self.average_reader.specificity,
                },
                "curve_positions": {
                    "below": self.curve_positions.below,
                    "on": self.curve_positions.on,
                    "above": self.curve_positions.above,
                },
                "brinker": _comparison_dict(self.brinker),
                "tschandl": _comparison_dict(self.tschandl),
                "mrmc_readers": list(self.mrmc_readers),
                "mrmc": algorithm_vs_readers_dict(self.mrmc),
                "per_reader_matched": [
                    {
                        "reader": m.reader,
                        "n_cases": m.n_cases,
                        "sensitivity": m.sensitivity,
                        "cnn_specificity_at_sensitivity": m.cnn_specificity_at_sensitivity,
                        "specificity": m.specificity,
                        "cnn_sensitivity_at_specificity": m.cnn_sensitivity_at_specificity,
                        "outcome": m.outcome,
                        "outcome_at_specificity": m.outcome_at_specificity,
                    }
                    for m in self.per_reader.readers
                ],
                "matched_summary": _summary_dict(self.per_reader.at_sensitivity),
                "matched_summary_at_specificity": _summary_dict(self.per_reader.at_specificity),
            }
        )


def json_safe(value: Any) -> Any:
    """Plain JSON values: numpy arrays become lists, NaN and infinities become None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def _reader_dict(result: ReaderResult) -> dict[str, Any]:
    test = result.vs_cnn
    return {
        "reader": result.reader,
        "n_cases": result.n_cases,
        "n_positive": result.n_positive,
        "n_negative": result.n_negative,
        "sensitivity": result.sensitivity.estimate,
        "sensitivity_ci": list(result.sensitivity.ci),
        "specificity": result.specificity.estimate,
        "specificity_ci": list(result.specificity.ci),
        "auc": result.auc.auc if result.auc else None,
        "auc_variance": result.auc.variance if result.auc else None,
        "auc_ci": list(result.auc.ci) if result.auc else None,
        "cnn_auc": test.auc_second if test else None,
        "diff_vs_cnn": test.diff if test else None,
        "diff_ci": list(test.ci) if test else None,
        "z": test.z if test else None,
        "p": test.p if test else None,
        "position": result.position,
    }


def _comparison_dict(comparison: OperatingPointComparison | None) -> dict[str, Any] | None:
    if comparison is None:
        return None
    return {
        "matched": comparison.matched,
        "target": comparison.target,
        "target_ci": list(comparison.target_ci),
        "cnn_value": comparison.cnn_value,
        "cnn_ci": list(comparison.cnn_ci),
        "cnn_threshold": comparison.cnn_threshold,
        "reader_value": comparison.reader_value,
        "diff": comparison.diff,
        "diff_ci": list(comparison.diff_ci),
        "n_readers": comparison.n_readers,
    }


def _summary_dict(summary: MatchedSummary) -> dict[str, Any]:
    return {
        "matched": summary.matched,
        "n_readers": summary.n_readers,
        "mean": summary.mean,
        "min": summary.min,
        "max": summary.max,
        "reader_mean": summary.reader_mean,
        "beat": summary.beat,
        "tied": summary.tied,
        "lost": summary.lost,
    }


def _t_test_dict(test: TTest) -> dict[str, Any]:
    return {"t": test.t, "df": test.df, "p": test.p, "ci": list(test.ci)}


def algorithm_vs_readers_dict(result: AlgorithmVsReaders | None) -> dict[str, Any] | None:
    """The JSON block of an algorithm-vs-readers analysis (keys as the ``analyze`` CLI)."""
    if result is None:
        return None
    return {
        "cov": result.cov_method,
        "algorithm_auc": result.algorithm_auc,
        "reader_mean_auc": result.reader_mean_auc,
        "diff": result.diff,
        "var_r": result.var_r,
        "var_error": result.var_error,
        "cov2": result.cov2,
        "rrrc": _t_test_dict(result.rrrc),
        "rrfc": _t_test_dict(result.rrfc),
    }


def study_analysis(
    truth: ArrayLike,
    cnn_scores: ArrayLike,
    readers: Sequence[ReaderInput],
    *,
    n_bootstrap: int = 2000,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
    cov: CovarianceMethod = "jackknife",
    include_partial: bool = False,
    readers_rated: bool = True,
) -> StudyAnalysis:
    """The CNN-versus-readers analysis of Esteva et al. (2017) and Brinker et al. (2019).

    CNN: ROC points (scikit-learn), AUC with DeLong (1988; Sun & Xu 2014) and stratified
    bootstrap (Efron & Tibshirani 1993) CIs. Readers: Wilson (1927) CIs of sensitivity and
    specificity, DeLong AUC and paired test on each reader's own cases, the average reader,
    counts below/above the CNN's curve, the Brinker (2019) and Tschandl (2019) operating-point
    comparisons (paired bootstrap on the same resamples as the AUC), and the single-algorithm
    MRMC test (Hillis 2007, section 5.3) over the readers who graded every case, and the CNN at
    each reader's own sensitivity and specificity (Brinker et al. 2019, per reader).

    A reader who did not grade every case (a partial reader) keeps a row of their own but is
    left out of the average reader, the operating-point comparisons and MRMC, unless
    ``include_partial``: then they count everywhere but in MRMC, which needs every reader to
    read every case (the per-reader comparison matches them on the cases they read).

    ``readers_rated=False``: the readers gave decisions but no confidence ratings (their
    ``rating`` is ignored), so each keeps a point but no AUC, and there is no MRMC (which
    compares areas under the readers' rating curves).
    """
    positive = checked_truth(truth)
    scores = checked_scores(positive, cnn_scores, name="cnn_scores")
    names = [r.reader for r in readers]
    if len(set(names)) != len(names):
        duplicate = next(name for name in names if names.count(name) > 1)
        raise ReaderInputError(f"reader {duplicate!r} appears twice")
    checked = [validate_reader(r, len(positive)) for r in readers]

    counts = stratified_counts(positive, n_bootstrap, seed)
    auc = auc_ci(positive, scores, level)
    curve = roc_curve(positive, scores)
    cnn = CnnResult(
        auc=auc,
        bootstrap=BootstrapCi(
            estimate=auc.auc,
            ci=percentile_ci(resampled_aucs(positive, scores, counts), level),
            n_bootstrap=n_bootstrap,
            seed=seed,
            level=level,
        ),
        curve=curve,
    )
    results = reader_results(positive, scores, checked, curve, level)
    if not readers_rated:
        results = tuple(replace(result, auc=None, vs_cnn=None) for result in results)
    partial = tuple(r.reader for r in checked if len(r.case_index) < len(positive))
    counted = [
        (reader, result)
        for reader, result in zip(checked, results, strict=True)
        if include_partial or reader.reader not in partial
    ]

    brinker = tschandl = None
    in_average = [
        (reader, result) for reader, result in counted if result.n_positive and result.n_negative
    ]
    if in_average:
        decisions = np.zeros((len(in_average), len(positive)), dtype=bool)
        graded = np.zeros_like(decisions)
        for row, (reader, _) in enumerate(in_average):
            decisions[row, reader.case_index] = reader.decision
            graded[row, reader.case_index] = True
        brinker, tschandl = compare_operating_points(
            positive, scores, decisions, graded, counts, seed=seed, level=level
        )

    complete = [r for r in checked if len(r.case_index) == len(positive)]
    mrmc = None
    if readers_rated and len(complete) >= 2:
        ratings = np.zeros((len(complete), len(positive)))
        for row, reader in enumerate(complete):
            ratings[row, reader.case_index] = reader.rating
        mrmc = algorithm_vs_readers(positive, scores, ratings, cov=cov, level=level)

    return StudyAnalysis(
        n_cases=len(positive),
        n_positive=int(positive.sum()),
        n_negative=int((~positive).sum()),
        level=level,
        n_bootstrap=n_bootstrap,
        seed=seed,
        cnn=cnn,
        readers=results,
        average_reader=average_reader([result for _, result in counted]),
        curve_positions=count_positions(results),
        brinker=brinker,
        tschandl=tschandl,
        mrmc_readers=tuple(r.reader for r in complete),
        mrmc=mrmc,
        partial_readers=partial,
        include_partial=include_partial,
        per_reader=per_reader_comparison(positive, scores, [reader for reader, _ in counted]),
        readers_rated=readers_rated,
    )
