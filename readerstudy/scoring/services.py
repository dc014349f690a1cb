"""Writes of the scoring package: activating models, sending cases to the workers, and
choosing a study's algorithm. What a worker does with a chunk of cases (attempts, retries,
failures, storing scores) is ``worker``; registering models is ``registration``; scores
computed elsewhere come in through ``score_imports``."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from readerstudy.celery import task_by_name
from readerstudy.scoring.models import (
    ActiveModel,
    CaseScoring,
    CnnScore,
    ModelVersion,
    ScoringRun,
    StudyAlgorithm,
)
from readerstudy.scoring.selectors import model_version_active_get, unscored_case_list
from readerstudy.studies.design import ClassScheme, study_design
from readerstudy.studies.models import Case, Study

log = logging.getLogger(__name__)

# Sent by name: the task module imports these services, never the other way round.
SCORE_CASES_TASK = "readerstudy.scoring.tasks.score_cases"


def cnn_classes_fill(scores: Sequence[CnnScore]) -> None:
    """Set each unsaved score's ``diagnosis_class``: the CNN's answer to its study's diagnosis
    question, the class with the highest summed probability (Esteva et al. 2017:
    ``ClassScheme.cnn_answer``). It stays None for a study that asks no diagnosis and for a
    score without per-class probabilities (imported as P(positive) only)."""
    study_of = dict(
        Case.objects.filter(pk__in={s.case_id for s in scores}).values_list("pk", "study_id")
    )
    schemes: dict[int, ClassScheme | None] = {
        study.pk: study_design(study).scheme
        for study in Study.objects.filter(pk__in=set(study_of.values()))
    }
    for score in scores:
        scheme = schemes.get(study_of.get(score.case_id, -1))
        score.diagnosis_class = (
            None if scheme is None else scheme.cnn_answer(score.fine_probabilities or {})
        )


def _chunk_size() -> int:
    return int(settings.READERSTUDY_SCORING_CHUNK)


@transaction.atomic
def model_version_activate(
    *, model_version: ModelVersion, tasks: Iterable[str], requested_by: User | None = None
) -> list[ScoringRun]:
    """Make ``model_version`` score the studies of ``tasks`` ("*" = every task without its
    own model) and send their unscored cases to the workers once this commits."""
    tasks = list(tasks)
    if not model_version.runs_here:
        raise ValueError(f"{model_version} holds imported scores; it cannot score studies")
    if model_version.clinical_metadata:
        raise ValueError(
            f"{model_version} weighs the patient's age and sex beside the image, so it may score "
            "only studies that show them to the readers: score such a study with it "
            "(manage.py score_study STUDY --model ID) rather than making it a task's model"
        )
    for task in tasks:
        ActiveModel.objects.update_or_create(task=task, defaults={"model_version": model_version})
    runs = []
    for study in Study.objects.exclude(status=Study.Status.CLOSED):
        if model_version_active_get(study.task) == model_version:
            run = study_scoring_enqueue(
                study=study, reason="model activated", requested_by=requested_by
            )
            if run:
                runs.append(run)
    return runs


@transaction.atomic
def study_algorithm_choose(
    *, study: Study, model_version: ModelVersion, chosen_by: User | None = None
) -> StudyAlgorithm:
    """Make ``model_version`` the algorithm of the study's analysis; it must have scored
    cases of the study."""
    _clinical_information_check(model_version, study)
    if not CnnScore.objects.filter(model_version=model_version, case__study=study).exists():
        raise ValueError(f"{model_version} has scored no case of study {study.pk}")
    choice, _ = StudyAlgorithm.objects.update_or_create(
        study=study, defaults={"model_version": model_version, "chosen_by": chosen_by}
    )
    return choice


def _clinical_information_check(model_version: ModelVersion, study: Study) -> None:
    """Refuse a model that weighs the patient's details for a study whose readers do not see
    them: the comparison would give the algorithm what the readers lack (Haenssle et al. 2018
    showed the readers the same clinical information in level II)."""
    if not model_version.scores_study(study):
        raise ValueError(
            f"{model_version} weighs the patient's age and sex beside the image, but study "
            f"{study.pk} does not show them to its readers"
        )


def score_cases_send(
    *, model_version_id: int, case_ids: Sequence[int], countdown: float | None = None
) -> None:
    """Send one ``score_cases`` message, on the scoring queue, once the current transaction
    commits (at once outside a transaction); ``countdown`` delays it (a retry's back-off)."""
    score_cases = task_by_name(SCORE_CASES_TASK)  # an unknown name fails here, not on commit
    kwargs = {"model_version_id": model_version_id, "case_ids": list(case_ids)}
    options: dict[str, object] = {"queue": settings.READERSTUDY_SCORING_QUEUE}
    if countdown is not None:
        options["countdown"] = countdown
    transaction.on_commit(lambda: score_cases.apply_async(kwargs=kwargs, **options))


def _enqueue_cases(model_version: ModelVersion, case_ids: Sequence[int]) -> None:
    """Mark ``case_ids`` as sent and send them in chunks after the transaction commits."""
    now = timezone.now()
    CaseScoring.objects.bulk_create(
        [CaseScoring(case_id=pk, model_version=model_version) for pk in case_ids],
        ignore_conflicts=True,
    )
    CaseScoring.objects.filter(model_version=model_version, case_id__in=case_ids).update(
        enqueued_at=now
    )
    size = _chunk_size()
    for start in range(0, len(case_ids), size):
        score_cases_send(model_version_id=model_version.pk, case_ids=case_ids[start : start + size])


@transaction.atomic
def study_scoring_enqueue(
    *,
    study: Study,
    model_version: ModelVersion | None = None,
    reason: str,
    requested_by: User | None = None,
) -> ScoringRun | None:
    """Send every case of ``study`` that lacks a score from the model (default: the model
    active for the study's task) to the scoring workers, except cases sent within the last
    READERSTUDY_SCORING_STALE_SECONDS (their messages are on the way; the reconciler re-sends
    them if not). Failed cases are sent again only when asked for explicitly
    (``scores_failed_retry``). Returns None when there is no model.
    """
    model_version = model_version or model_version_active_get(study.task)
    if model_version is None or not model_version.runs_here:
        return None
    _clinical_information_check(model_version, study)
    recent = timezone.now() - timedelta(seconds=settings.READERSTUDY_SCORING_STALE_SECONDS)
    case_ids = list(
        unscored_case_list(study, model_version)
        .exclude(
            pk__in=CaseScoring.objects.filter(
                model_version=model_version, enqueued_at__gte=recent
            ).values("case_id")
        )
        .values_list("pk", flat=True)
    )
    run = ScoringRun.objects.create(
        study=study,
        model_version=model_version,
        n_cases=len(case_ids),
        reason=reason,
        requested_by=requested_by,
    )
    _enqueue_cases(model_version, case_ids)
    return run


@transaction.atomic
def scores_failed_retry(*, study: Study, model_version: ModelVersion) -> int:
    """Give the study's FAILED cases three fresh attempts (after the image was replaced)."""
    failed = CaseScoring.objects.filter(
        model_version=model_version, case__study=study, status=CaseScoring.Status.FAILED
    )
    case_ids = list(failed.values_list("case_id", flat=True))
    failed.update(status=CaseScoring.Status.PENDING, attempts=0, error="")
    _enqueue_cases(model_version, case_ids)
    return len(case_ids)


def scores_reconcile(*, stale_after: timedelta | None = None) -> int:
    """Re-send every case that lacks a score from its study's active model and was not sent
    within ``stale_after`` (default: READERSTUDY_SCORING_STALE_SECONDS). This recovers
    messages lost with a broker restart; a duplicate is harmless. Returns the cases sent."""
    if stale_after is None:
        stale_after = timedelta(seconds=settings.READERSTUDY_SCORING_STALE_SECONDS)
    cutoff = timezone.now() - stale_after
    sent = 0
    for study in Study.objects.exclude(status=Study.Status.CLOSED):
        model_version = model_version_active_get(study.task)
        if model_version is None:
            continue
        with transaction.atomic():
            missing = unscored_case_list(study, model_version).exclude(
                pk__in=CaseScoring.objects.filter(
                    model_version=model_version, enqueued_at__gte=cutoff
                ).values("case_id")
            )
            case_ids = list(missing.values_list("pk", flat=True))
            if case_ids:
                log.info("reconciler: re-sending %d cases of study %s", len(case_ids), study.pk)
                _enqueue_cases(model_version, case_ids)
                sent += len(case_ids)
    return sent
