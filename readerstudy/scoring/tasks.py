"""Scoring tasks: thin, they load what their primary keys name and call a service. Each is safe
to run twice: a stored score is never written again, and a case on its way is not sent again."""

from __future__ import annotations

from celery import Task
from django.conf import settings
from django.contrib.auth.models import User

from readerstudy.celery import task
from readerstudy.scoring.models import InsightStatus, ModelVersion, SaliencyMap
from readerstudy.scoring.saliency import saliency_map_compute, study_saliency_request
from readerstudy.scoring.services import scores_reconcile, study_scoring_enqueue
from readerstudy.scoring.worker import case_chunk_score
from readerstudy.studies.models import Study


@task(queue=settings.READERSTUDY_SCORING_QUEUE)
def score_cases(self: Task, *, model_version_id: int, case_ids: list[int]) -> int:
    """Score a chunk of cases with one model version; returns the scores written (the
    attempts, splitting and failure policy is ``worker.case_chunk_score``)."""
    model_version = ModelVersion.objects.get(pk=model_version_id)
    return case_chunk_score(
        model_version=model_version, case_ids=case_ids, hostname=self.request.hostname
    )


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


@task(queue=settings.READERSTUDY_SCORING_QUEUE, max_retries=2)
def saliency_compute(self: Task, *, saliency_map_id: int) -> None:
    """Grad-CAM needs the network, so it runs where the CNN scoring runs."""
    try:
        saliency_map_compute(saliency_map_id=saliency_map_id)
    except Exception as error:
        SaliencyMap.objects.filter(pk=saliency_map_id).update(
            status=InsightStatus.FAILED, error=f"{type(error).__name__}: {error}"[:4000]
        )
        raise


@task()
def study_saliency_prepare(self: Task, *, study_id: int, case_ids: list[int]) -> None:
    """Ask for the Grad-CAM maps of a reader's cases in their reading order, so that the
    aided phase rarely waits for one. Sent by name (``STUDY_SALIENCY_PREPARE_TASK``) when a
    reader's order is made or grows: the thousand inserts and messages of a large study are
    a worker's job, not the reader's first request's. A repeat asks for nothing twice."""
    study = Study.objects.filter(pk=study_id).first()
    if study is not None:
        study_saliency_request(study, case_ids)
