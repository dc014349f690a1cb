"""What a run measures: each task's AUC (DeLong et al. 1988, through classifier.evaluate) on
biopsy-proven cases, the validation AUC that selects an epoch, and the operating thresholds
chosen on the validation split (Youden 1950)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from classifier.data import Case
from classifier.evaluate import evaluate_scores, youden_threshold
from classifier.taxonomy import Taxonomy
from readerstudy.stats.roc import RocInputError

TASKS = ("melanoma-vs-nevus", "carcinoma-vs-keratosis", "malignant-vs-benign")
SELECTION_TASKS = ("melanoma-vs-nevus", "carcinoma-vs-keratosis")


def metrics_or_none(
    cases: Sequence[Case],
    fine: np.ndarray,
    taxonomy: Taxonomy,
    task: str,
    *,
    biopsy_proven_only: bool,
    threshold: float | None = None,
) -> dict[str, Any] | None:
    """A task's metrics, or None when the cases lack a positive or a negative (tiny runs)."""
    try:
        return evaluate_scores(
            cases,
            fine,
            taxonomy,
            taxonomy.task(task),
            biopsy_proven_only=biopsy_proven_only,
            threshold=threshold,
        )
    except (RocInputError, ValueError):
        return None


def auc(metrics: dict[str, Any] | None) -> float:
    return float("nan") if metrics is None else float(metrics["auc"])


def task_metrics(
    cases: Sequence[Case],
    fine: np.ndarray,
    taxonomy: Taxonomy,
    thresholds: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Every task's metrics on biopsy-proven cases, and melanoma-vs-nevus on all nevi."""
    metrics: dict[str, Any] = {}
    for name in TASKS:
        threshold = (thresholds or {}).get(name)
        metrics[name] = metrics_or_none(
            cases, fine, taxonomy, name, biopsy_proven_only=True, threshold=threshold
        )
    metrics["melanoma-vs-nevus (all nevi)"] = metrics_or_none(
        cases, fine, taxonomy, "melanoma-vs-nevus", biopsy_proven_only=False
    )
    return metrics


def selection_auc(metrics: dict[str, Any]) -> float:
    """The mean validation AUC of the selection tasks (what ``--select best`` maximises)."""
    return float(np.mean([auc(metrics[t]) for t in SELECTION_TASKS]))


def youden_thresholds(
    cases: Sequence[Case], fine: np.ndarray, taxonomy: Taxonomy
) -> dict[str, float]:
    """Each task's threshold by Youden's J on the biopsy-proven cases (tasks that have both a
    positive and a negative only)."""
    thresholds = {}
    for name in TASKS:
        task = taxonomy.task(name)
        keep = [
            i
            for i, c in enumerate(cases)
            if task.truth(c.diagnosis) is not None and c.biopsy_proven
        ]
        truth = np.array([task.truth(cases[i].diagnosis) for i in keep])
        if len(set(truth.tolist())) == 2:
            scores = taxonomy.task_probability(fine[keep], task)
            thresholds[name] = youden_threshold(truth, scores)
    return thresholds
