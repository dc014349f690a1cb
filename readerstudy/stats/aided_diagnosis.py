"""Diagnosis questions read unaided and then aided: accuracy and mean recall, paired by reader.

Per reader: accuracy with its Wilson (1927) interval and mean recall (balanced accuracy;
Brodersen et al. 2010) in each phase (``diagnosis.diagnosis_result``), the change aided minus
unaided, and the exact McNemar (1947) test of the two phases' correctness on the same cases
(``diagnosis.mcnemar_exact``), as Tschandl et al. (Nature Medicine 2020) compare
dermatologists with and without AI support. Over the panel: the mean change with a Student t
interval over readers (readers random, cases fixed; ``means.mean_t_ci``) and with a
percentile interval from the two-way case-and-reader bootstrap (readers and cases random;
``bootstrap.case_reader_counts``, Obuchowski 1995). Every reader answers every case in both
phases.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from readerstudy.stats.bootstrap import case_reader_counts, percentile_ci
from readerstudy.stats.diagnosis import (
    DiagnosisInputError,
    DiagnosisResult,
    class_indices,
    diagnosis_result,
    mcnemar_exact,
)
from readerstudy.stats.means import MeanTCi, mean_t_ci


@dataclass(frozen=True)
class PhaseMcNemar:
    """Exact McNemar (1947) test of one reader's aided against unaided correctness.

    aided_only: cases right aided and wrong unaided; unaided_only: the reverse. Two-sided p,
    1.0 without discordant cases."""

    n_cases: int
    aided_only: int
    unaided_only: int
    p: float


@dataclass(frozen=True)
class ReaderDiagnosisChange:
    """One reader's two phases scored against the truth, and aided minus unaided."""

    reader: str
    unaided: DiagnosisResult
    aided: DiagnosisResult
    accuracy_change: float
    mean_recall_change: float
    mcnemar: PhaseMcNemar


@dataclass(frozen=True)
class PanelChange:
    """Reader-mean of a measure in each phase and the mean change (aided minus unaided): the
    t interval over readers (``change``) and the case-and-reader bootstrap percentile
    interval (``bootstrap_ci``)."""

    unaided: float
    aided: float
    change: MeanTCi
    bootstrap_ci: tuple[float, float]


@dataclass(frozen=True)
class AidedDiagnosis:
    """Per-reader phases and changes, and the panel's accuracy and mean recall changes."""

    per_reader: tuple[ReaderDiagnosisChange, ...]
    accuracy: PanelChange
    mean_recall: PanelChange
    n_readers: int
    n_cases: int
    n_bootstrap: int
    seed: int
    level: float


def _answer_indices(
    answers: ArrayLike, classes: Sequence[Hashable], name: str, n_cases: int
) -> np.ndarray:
    array = np.asarray(answers, dtype=object)
    if array.ndim != 2 or array.shape[1] != n_cases or array.shape[0] < 1:
        raise DiagnosisInputError(
            f"{name} answers must be (readers, {n_cases} cases) with at least one reader, "
            f"got shape {array.shape}"
        )
    return np.array(
        [class_indices(row, classes, f"{name} reader {j}") for j, row in enumerate(array)]
    )


def _resampled_accuracy(right: np.ndarray, case_counts: np.ndarray) -> np.ndarray:
    """(readers, n_bootstrap) accuracy of each reader on each resample's cases."""
    return np.asarray(right @ case_counts.T / right.shape[1])


def _resampled_mean_recall(
    right: np.ndarray, truth: np.ndarray, n_classes: int, case_counts: np.ndarray
) -> np.ndarray:
    """(readers, n_bootstrap) mean recall over the classes present in each resample."""
    total = np.zeros((right.shape[0], case_counts.shape[0]))
    present = np.zeros(case_counts.shape[0])
    for k in range(n_classes):
        of_class = truth == k
        cases = case_counts @ of_class  # (n_bootstrap,)
        if not of_class.any():
            continue
        hits = (right & of_class) @ case_counts.T  # (readers, n_bootstrap)
        with np.errstate(invalid="ignore", divide="ignore"):
            total += np.where(cases > 0, hits / cases, 0.0)
        present += cases > 0
    return total / present


def _panel_change(
    unaided: np.ndarray,
    aided: np.ndarray,
    boot_unaided: np.ndarray,
    boot_aided: np.ndarray,
    reader_counts: np.ndarray,
    level: float,
) -> PanelChange:
    n_readers = len(unaided)
    # The mean over each resample's readers of that reader's change on the resample's cases.
    boot_change = (reader_counts * (boot_aided - boot_unaided).T).sum(axis=1) / n_readers
    return PanelChange(
        unaided=float(unaided.mean()),
        aided=float(aided.mean()),
        change=mean_t_ci(aided - unaided, level),
        bootstrap_ci=percentile_ci(boot_change, level),
    )


def aided_diagnosis(
    truth: ArrayLike,
    unaided_answers: ArrayLike,
    aided_answers: ArrayLike,
    classes: Sequence[Hashable],
    *,
    readers: Sequence[str] | None = None,
    n_bootstrap: int = 2000,
    seed: int = 2020,
    level: float = 0.95,
) -> AidedDiagnosis:
    """Accuracy (Wilson 1927) and mean recall (Brodersen et al. 2010) unaided and aided per
    reader, with the exact McNemar (1947) test of the phases, and the panel's mean change
    with a Student t interval over readers and a two-way case-and-reader bootstrap interval
    (Obuchowski 1995; Efron & Tibshirani 1993, ch. 13). Answers are (readers, cases) class
    labels, every reader answering every case in both phases."""
    truth_index = class_indices(truth, classes, "truth")
    n_cases = len(truth_index)
    if n_cases == 0:
        raise DiagnosisInputError("no cases to compare on")
    unaided_index = _answer_indices(unaided_answers, classes, "unaided", n_cases)
    aided_index = _answer_indices(aided_answers, classes, "aided", n_cases)
    if unaided_index.shape != aided_index.shape:
        raise DiagnosisInputError(
            f"unaided answers are {unaided_index.shape} but aided answers {aided_index.shape}"
        )
    n_readers = unaided_index.shape[0]
    names = (
        tuple(readers) if readers is not None else tuple(f"reader{j + 1}" for j in range(n_readers))
    )
    if len(names) != n_readers:
        raise DiagnosisInputError(f"{len(names)} reader names for {n_readers} readers")
    labels = np.asarray(classes, dtype=object)
    per_reader = []
    for j, name in enumerate(names):
        unaided = diagnosis_result(truth, labels[unaided_index[j]], classes, level=level)
        aided = diagnosis_result(truth, labels[aided_index[j]], classes, level=level)
        test = mcnemar_exact(truth, labels[aided_index[j]], labels[unaided_index[j]], classes)
        per_reader.append(
            ReaderDiagnosisChange(
                reader=name,
                unaided=unaided,
                aided=aided,
                accuracy_change=aided.accuracy.estimate - unaided.accuracy.estimate,
                mean_recall_change=aided.mean_recall - unaided.mean_recall,
                mcnemar=PhaseMcNemar(
                    n_cases=test.n_cases,
                    aided_only=test.algorithm_only,
                    unaided_only=test.reader_only,
                    p=test.p,
                ),
            )
        )
    unaided_right = unaided_index == truth_index
    aided_right = aided_index == truth_index
    case_counts, reader_counts = case_reader_counts(n_cases, n_readers, n_bootstrap, seed)
    accuracy = _panel_change(
        np.array([r.unaided.accuracy.estimate for r in per_reader]),
        np.array([r.aided.accuracy.estimate for r in per_reader]),
        _resampled_accuracy(unaided_right, case_counts),
        _resampled_accuracy(aided_right, case_counts),
        reader_counts,
        level,
    )
    mean_recall = _panel_change(
        np.array([r.unaided.mean_recall for r in per_reader]),
        np.array([r.aided.mean_recall for r in per_reader]),
        _resampled_mean_recall(unaided_right, truth_index, len(classes), case_counts),
        _resampled_mean_recall(aided_right, truth_index, len(classes), case_counts),
        reader_counts,
        level,
    )
    return AidedDiagnosis(
        per_reader=tuple(per_reader),
        accuracy=accuracy,
        mean_recall=mean_recall,
        n_readers=n_readers,
        n_cases=n_cases,
        n_bootstrap=n_bootstrap,
        seed=seed,
        level=level,
    )
