"""Scoring tasks. Both are safe to run twice: a stored score is never written again."""

from __future__ import annotations

import logging

from celery import Task
from django.conf import settings
from django.contrib.auth.models import User

from readerstudy.celery import task
from readerstudy.scoring.inference import score_cases_in_batches
from readerstudy.scoring.models import CaseScoring, CnnScore, ModelVersion
from readerstudy.scoring.services import (
    MAX_ATTEMPTS,
    case_attempts_begin,
    case_scoring_fail,
    case_scoring_note_error,
    scores_reconcile,
    scores_store,
    study_scoring_enqueue,
)
from readerstudy.studies.models import Case, Study

log = logging.getLogger(__name__)


@task(queue=settings.READERSTUDY_SCORING_QUEUE)
def score_cases(self: Task, *, model_version_id: int, case_ids: list[int]) -> int:
    """Score a chunk of cases with one model version; returns the scores written.

    A chunk that comes back after a worker process died mid-way (its cases already have an
    attempt) is split into one task per case, so an image that kills the process uses up
    only its own attempts: after three it is marked FAILED and the others are scored.
    """
    model_version = ModelVersion.objects.get(pk=model_version_id)
    done = set(
        CnnScore.objects.filter(model_version=model_version, case_id__in=case_ids).values_list(
            "case_id", flat=True
        )
    )
    states = {
        row.case_id: row
        for row in CaseScoring.objects.filter(model_version=model_version, case_id__in=case_ids)
    }
    todo = [
        pk
        for pk in case_ids
        if pk not in done and not (pk in states and states[pk].status == CaseScoring.Status.FAILED)
    ]
    if not todo:
        return 0
    tried = [pk for pk in todo if pk in states and states[pk].attempts > 0]
    if len(todo) > 1 and tried:
        log.warning("chunk of %d cases came back after a failure: splitting it", len(todo))
        for pk in todo:
            score_cases.apply_async(kwargs={"model_version_id": model_version_id, "case_ids": [pk]})
        return 0
    if len(todo) == 1 and tried and states[todo[0]].attempts >= MAX_ATTEMPTS:
        state = states[todo[0]]
        case_scoring_fail(
            model_version=model_version,
            case_id=todo[0],
            error=state.error
            or f"the worker process died while scoring this image {state.attempts} times",
        )
        return 0

    case_attempts_begin(model_version=model_version, case_ids=todo)
    cases = list(Case.objects.filter(pk__in=todo).select_related("study").order_by("position"))
    written = 0
    for batch in score_cases_in_batches(
        model_version=model_version, cases=cases, hostname=self.request.hostname
    ):
        written += scores_store(batch.scores)
        for case_id, error in batch.errors.items():
            attempts = (states[case_id].attempts if case_id in states else 0) + 1
            log.warning("case %s failed attempt %d: %s", case_id, attempts, error)
            if attempts >= MAX_ATTEMPTS:
                case_scoring_fail(model_version=model_version, case_id=case_id, error=error)
            else:
                case_scoring_note_error(model_version=model_version, case_id=case_id, error=error)
                score_cases.apply_async(
                    kwargs={"model_version_id": model_version_id, "case_ids": [case_id]},
                    countdown=2**attempts,
                )
    return written


@task()
def reconcile_scores(self: Task) -> int:
    """Periodic: re-send cases that lack a score from their study's active model."""
    return scores_reconcile()


@task()
def study_scoring_start(
    self: Task, *, study_id: int, reason: str, requested_by_id: int | None = None
) -> int:
    """Send a study's unscored cases to the scoring workers; returns how many were sent.

    Sent by name (``STUDY_SCORING_START_TASK`` in readerstudy.studies.ingest.save) after an
    import commits: studies may not import scoring. A repeat sends only what is not on its way.
    """
    study = Study.objects.filter(pk=study_id).first()
    if study is None:
        return 0
    requested_by = User.objects.filter(pk=requested_by_id).first() if requested_by_id else None
    run = study_scoring_enqueue(study=study, reason=reason, requested_by=requested_by)
    return run.n_cases if run is not None else 0
