"""Reads of the scoring package: which model scores a task, what is scored, progress."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from classifier.taxonomy import load_taxonomy
from readerstudy.scoring.models import (
    ANY_TASK,
    ActiveModel,
    CaseScoring,
    CnnScore,
    ModelVersion,
    ScoringRun,
    StudyAlgorithm,
)
from readerstudy.scoring.stated_metrics import ordered_items, stated_metrics_display
from readerstudy.studies.models import Case, Study


def model_version_active_get(task: str) -> ModelVersion | None:
    """The model version active for ``task``, else the one active for every task ("*")."""
    rows = {
        row.task: row.model_version
        for row in ActiveModel.objects.filter(task__in=[task, ANY_TASK]).select_related(
            "model_version"
        )
    }
    return rows.get(task) or rows.get(ANY_TASK)


def model_version_get(pk: int) -> ModelVersion | None:
    return ModelVersion.objects.filter(pk=pk).first()


def model_version_task_list(model_version: ModelVersion) -> list[str]:
    """The tasks ``model_version`` scores ("*": every task without a model of its own)."""
    return sorted(
        ActiveModel.objects.filter(model_version=model_version).values_list("task", flat=True)
    )


def study_algorithm_list(study: Study) -> list[ModelVersion]:
    """Every model version that scored cases of ``study`` (native, timm, ONNX or imported),
    the most recent first."""
    scored = CnnScore.objects.filter(case__study=study).values("model_version_id")
    return list(ModelVersion.objects.filter(pk__in=scored).select_related("created_by"))


def study_algorithm_get(study: Study) -> ModelVersion | None:
    """The algorithm the study's analysis uses: the one an analyst chose, else the model
    active for the study's task, else the latest that scored the study (imported scores of a
    task that has no model of its own). Never a model that weighs the patient's details for a
    study whose readers do not see them (a choice made before the draft study stopped showing
    them is passed over)."""
    chosen = StudyAlgorithm.objects.filter(study=study).select_related("model_version").first()
    if chosen is not None and chosen.model_version.scores_study(study):
        return chosen.model_version
    active = model_version_active_get(study.task)
    if active is not None:
        return active
    algorithms = [m for m in study_algorithm_list(study) if m.scores_study(study)]
    return algorithms[0] if algorithms else None


def model_version_brief(model_version: ModelVersion | None) -> dict[str, object] | None:
    """How reports and progress name the model that scored: id, name, kind, checkpoint sha256,
    and whether it weighed the patient's age and sex beside the image."""
    if model_version is None:
        return None
    return {
        "id": model_version.pk,
        "name": model_version.name,
        "kind": model_version.kind,
        "sha256": model_version.sha256,
        "clinical_metadata": model_version.clinical_metadata,
    }


def insight_unavailable_reason(model_version: ModelVersion) -> str | None:
    """Why t-SNE maps and saliency maps are absent for this algorithm (None: they work)."""
    if model_version.has_embeddings:
        return None
    if model_version.kind == ModelVersion.Kind.ONNX:
        return (
            f"{model_version.name} is an ONNX model: onnxruntime gives its outputs only, not its "
            "hidden layers or gradients, so there is no t-SNE map and no saliency map."
        )
    return (
        f"{model_version.name} is imported scores: only its probabilities are known, not the "
        "network behind them, so there is no t-SNE map and no saliency map."
    )


def model_card_get(model_version: ModelVersion) -> dict[str, object]:
    """What is shown where a model is chosen: name, kind, who registered it, sha256, its
    classes and their mapping onto the taxonomy, and its own stated metrics."""
    description = model_version.description or {}
    classes = list(description.get("class_names") or model_version.class_names)
    # PostgreSQL's jsonb keeps no key order: the mapping follows the model's outputs.
    mapping = ordered_items(model_version.taxonomy_mapping or {}, classes)
    return {
        **(model_version_brief(model_version) or {}),
        "arch": model_version.arch,
        "registered_by": model_version.created_by.get_username()
        if model_version.created_by
        else None,
        "registered_at": model_version.created_at.isoformat(),
        "file_sha256": model_version.file_sha256,
        "classes": classes,
        "taxonomy_mapping": dict(mapping),
        "metrics": model_version.metrics,
        "stated_metrics": stated_metrics_display(
            model_version.metrics, task_order=list(load_taxonomy().tasks)
        ),
        "notes": description.get("notes", ""),
        "insight": model_version.has_embeddings,
        "clinical_metadata": model_version.clinical_metadata,
    }


def model_card_list() -> list[dict[str, object]]:
    """The card of every registered model with the tasks it scores (``active_for``)."""
    active: dict[int, list[str]] = {}
    for model_version_id, task in ActiveModel.objects.values_list("model_version_id", "task"):
        active.setdefault(model_version_id, []).append(task)
    return [
        {**model_card_get(model_version), "active_for": sorted(active.get(model_version.pk, []))}
        for model_version in ModelVersion.objects.select_related("created_by")
    ]


def unscored_case_list(study: Study, model_version: ModelVersion) -> QuerySet[Case]:
    """Cases of ``study`` with neither a score from ``model_version`` nor a FAILED mark."""
    return (
        Case.objects.filter(study=study)
        .exclude(pk__in=CnnScore.objects.filter(model_version=model_version).values("case_id"))
        .exclude(
            pk__in=CaseScoring.objects.filter(
                model_version=model_version, status=CaseScoring.Status.FAILED
            ).values("case_id")
        )
        .order_by("position")
    )


@dataclass(frozen=True)
class ScoringProgress:
    model_version: ModelVersion | None
    total: int
    scored: int
    failed: int
    rate_per_second: float | None
    eta_seconds: float | None
    failures: list[dict[str, str]]

    @property
    def pending(self) -> int:
        return self.total - self.scored - self.failed

    @property
    def done(self) -> bool:
        return self.pending == 0

    def to_dict(self) -> dict[str, object]:
        return {
            "model": model_version_brief(self.model_version),
            "total": self.total,
            "scored": self.scored,
            "failed": self.failed,
            "pending": self.pending,
            "done": self.done,
            "rate_per_second": self.rate_per_second,
            "eta_seconds": self.eta_seconds,
            "failures": self.failures,
        }


def study_scoring_progress_get(
    study: Study, model_version: ModelVersion | None = None
) -> ScoringProgress:
    """Scored / total, failures and an ETA from the rate since the latest scoring request."""
    model_version = model_version or model_version_active_get(study.task)
    total = Case.objects.filter(study=study).count()
    if model_version is None:
        return ScoringProgress(None, total, 0, 0, None, None, [])
    scores = CnnScore.objects.filter(model_version=model_version, case__study=study)
    scored = scores.count()
    failed_rows = CaseScoring.objects.filter(
        model_version=model_version, case__study=study, status=CaseScoring.Status.FAILED
    ).select_related("case")
    failures = [
        {"case": str(row.case.public_id), "source_id": row.case.source_id, "error": row.error}
        for row in failed_rows[:50]
    ]
    failed = failed_rows.count()
    rate = eta = None
    run = (
        ScoringRun.objects.filter(study=study, model_version=model_version, n_cases__gt=0)
        .order_by("-started_at")
        .first()
    )
    remaining = total - scored - failed
    if run is not None and remaining > 0:
        elapsed = (timezone.now() - run.started_at).total_seconds()
        done_since = scores.filter(created_at__gte=run.started_at).count()
        if done_since and elapsed > 0:
            rate = done_since / elapsed
            eta = remaining / rate
    return ScoringProgress(model_version, total, scored, failed, rate, eta, failures)


def study_cnn_probabilities(
    study: Study,
    model_version: ModelVersion | None = None,
    *,
    case_ids: Collection[int] | None = None,
) -> dict[int, float]:
    """Case id -> the algorithm's probability of the positive class for the study's task, from
    ``model_version`` (default: the study's algorithm, ``study_algorithm``); cases it has not
    scored are missing. ``case_ids`` narrows it to those cases.

    The one reading of CNN probabilities: feedback, exports, analyses, maps and the case page
    all call it (tests/scoring/test_one_definition.py keeps it so)."""
    model_version = model_version or study_algorithm_get(study)
    if model_version is None:
        return {}
    scores = CnnScore.objects.filter(model_version=model_version, case__study=study)
    if case_ids is not None:
        scores = scores.filter(case_id__in=case_ids)
    return dict(scores.values_list("case_id", "probability"))


def study_cnn_classes(study: Study, model_version: ModelVersion | None = None) -> dict[int, str]:
    """Case id -> the algorithm's answer to the study's diagnosis question (the class with the
    highest summed probability, stored with the score), from ``model_version`` (default: the
    study's algorithm); cases without a class answer (not scored, a study without a diagnosis
    question, scores imported as P(positive) only) are missing."""
    model_version = model_version or study_algorithm_get(study)
    if model_version is None:
        return {}
    return dict(
        CnnScore.objects.filter(
            model_version=model_version, case__study=study, diagnosis_class__isnull=False
        ).values_list("case_id", "diagnosis_class")
    )


def case_cnn_output_get(
    study: Study, case_id: int, model_version: ModelVersion | None = None
) -> tuple[float, dict[str, float]] | None:
    """The algorithm's output for one case: the probability of the task's positive side (as
    ``study_cnn_probabilities`` reads it) and the training-class probabilities; None where it
    has not scored the case. ``model_version``: default the study's algorithm."""
    model_version = model_version or study_algorithm_get(study)
    if model_version is None:
        return None
    probability = study_cnn_probabilities(study, model_version, case_ids=[case_id]).get(case_id)
    if probability is None:
        return None
    fine = (
        CnnScore.objects.filter(model_version=model_version, case_id=case_id)
        .values_list("fine_probabilities", flat=True)
        .first()
    )
    return float(probability), {str(k): float(v) for k, v in (fine or {}).items()}


def study_cnn_fine_probabilities(
    study: Study, model_version: ModelVersion | None = None
) -> dict[int, dict[str, float]]:
    """Case id -> the algorithm's training-class probabilities (``case_cnn_output_get``'s
    second half for every case at once), from ``model_version`` (default: the study's
    algorithm); cases it has not scored are missing, and a score imported as P(positive) only
    maps to {}."""
    model_version = model_version or study_algorithm_get(study)
    if model_version is None:
        return {}
    rows = CnnScore.objects.filter(model_version=model_version, case__study=study).values_list(
        "case_id", "fine_probabilities"
    )
    return {case_id: {str(k): float(v) for k, v in (fine or {}).items()} for case_id, fine in rows}


def study_embeddings(study: Study, model_version: ModelVersion) -> tuple[list[int], np.ndarray]:
    """Case ids and their penultimate-layer features (float32 rows) for one model."""
    rows = list(
        CnnScore.objects.filter(
            model_version=model_version, case__study=study, embedding__isnull=False
        )
        .order_by("case__position")
        .values_list("case_id", "embedding")
    )
    if not rows:
        return [], np.zeros((0, 0), dtype=np.float32)
    ids = [case_id for case_id, _ in rows]
    matrix = np.stack([np.frombuffer(bytes(blob), dtype=np.float16) for _, blob in rows])
    return ids, matrix.astype(np.float32)


def cnn_score_stamp_get(
    study: Study, model_version: ModelVersion, *, with_embedding: bool = False
) -> tuple[int, int | None]:
    """How many of the study's cases ``model_version`` has scored (``with_embedding``: with an
    embedding stored) and the newest score's id: changes with every score."""
    scores = CnnScore.objects.filter(case__study=study, model_version=model_version)
    if with_embedding:
        scores = scores.filter(embedding__isnull=False)
    stamp = scores.aggregate(n=Count("pk"), last=Max("pk"))
    return stamp["n"], stamp["last"]
