"""Writes of the scoring package: registering and activating models, sending cases to the
workers, and storing what the workers compute."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from classifier.taxonomy import load_taxonomy
from readerstudy.celery import enqueue_on_commit
from readerstudy.scoring.models import (
    ANY_TASK,
    ActiveModel,
    CaseScoring,
    CnnScore,
    ModelVersion,
    ScoringRun,
)
from readerstudy.scoring.selectors import active_model_for_task, cases_needing_score
from readerstudy.studies.models import Case, Study

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


class ModelRegistrationError(ValueError):
    """A checkpoint that cannot serve as a model version (the message says why)."""


def _chunk_size() -> int:
    return int(settings.READERSTUDY_SCORING_CHUNK)


@transaction.atomic
def model_version_register(
    *,
    path: Path,
    name: str | None = None,
    created_by: User | None = None,
    activate_for: Iterable[str] = (),
) -> tuple[ModelVersion, bool]:
    """Register the checkpoint at ``path``; returns the model version and whether it is new.

    The checkpoint must load, carry its model config, and predict the taxonomy's training
    classes. Its sha256 is its identity: registering the same file again returns the
    existing version. The file is copied into media storage as ``models/<sha256>.pt``.
    """
    # torch comes with the checkpoint module: loaded here, never by web processes that
    # merely import this module (the admin does, at start-up).
    from classifier.checkpoint import CheckpointError, file_sha256, load_checkpoint

    sha256 = file_sha256(path)
    existing = ModelVersion.objects.filter(sha256=sha256).first()
    if existing is not None:
        if not default_storage.exists(existing.checkpoint.name):
            # The row outlived its file (media restored without models/): the same bytes
            # were just handed in, so put them back.
            with path.open("rb") as handle:
                default_storage.save(existing.checkpoint.name, File(handle))
        if activate_for:
            model_version_activate(model_version=existing, tasks=activate_for)
        return existing, False
    try:
        checkpoint = load_checkpoint(path)
    except CheckpointError as error:
        raise ModelRegistrationError(f"{path.name}: {error}") from None
    config = checkpoint.config
    training_classes = list(load_taxonomy().training_classes)
    if list(config.class_names) != training_classes:
        raise ModelRegistrationError(
            f"{path.name}: predicts classes {list(config.class_names)}, but the taxonomy's "
            f"training classes are {training_classes}"
        )
    storage_name = f"models/{sha256}.pt"
    if not default_storage.exists(storage_name):
        with path.open("rb") as handle:
            stored = default_storage.save(storage_name, File(handle))
        if stored != storage_name:  # pragma: no cover (content addressing makes this rare)
            raise ModelRegistrationError(f"could not store the checkpoint as {storage_name}")
    model_version = ModelVersion.objects.create(
        name=name or checkpoint.name or path.stem,
        arch=config.arch,
        checkpoint=storage_name,
        sha256=sha256,
        taxonomy_version=config.taxonomy_version,
        input_size=list(config.input_size),
        class_names=list(config.class_names),
        metrics=checkpoint.metrics,
        data_summary=checkpoint.data_summary,
        created_by=created_by,
    )
    if activate_for:
        model_version_activate(model_version=model_version, tasks=activate_for)
    return model_version, True


def model_version_register_upload(
    *, upload: IO[bytes], filename: str, created_by: User | None, name: str | None = None
) -> ModelVersion:
    """Register an uploaded checkpoint (admin or API). A file already registered is refused."""
    staging = Path(settings.UPLOAD_ROOT) / "checkpoints"
    staging.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=staging, suffix=".pt", delete=False) as temporary:
        shutil.copyfileobj(upload, temporary)
        temporary_path = Path(temporary.name)
    try:
        model_version, created = model_version_register(
            path=temporary_path, name=name or Path(filename).stem, created_by=created_by
        )
    finally:
        temporary_path.unlink(missing_ok=True)
    if not created:
        raise ModelRegistrationError(
            f"{filename}: this checkpoint is already registered as {model_version} "
            f"(sha256 {model_version.sha256})"
        )
    return model_version


def model_version_register_default() -> ModelVersion | None:
    """Register the shipped default model and make it score every task that has no model.

    Runs after ``migrate``; does nothing when the checkpoint file is not in the checkout.
    """
    from classifier import DEFAULT_CHECKPOINT

    if not Path(DEFAULT_CHECKPOINT).exists():
        log.warning("the default model %s is missing; no model registered", DEFAULT_CHECKPOINT)
        return None
    model_version, _ = model_version_register(path=Path(DEFAULT_CHECKPOINT))
    if not ActiveModel.objects.filter(task=ANY_TASK).exists():
        model_version_activate(model_version=model_version, tasks=[ANY_TASK])
    return model_version


@transaction.atomic
def model_version_activate(
    *, model_version: ModelVersion, tasks: Iterable[str], requested_by: User | None = None
) -> list[ScoringRun]:
    """Make ``model_version`` score the studies of ``tasks`` ("*" = every task without its
    own model) and send their unscored cases to the workers once this commits."""
    tasks = list(tasks)
    for task in tasks:
        ActiveModel.objects.update_or_create(task=task, defaults={"model_version": model_version})
    runs = []
    for study in Study.objects.exclude(status=Study.Status.CLOSED):
        if active_model_for_task(study.task) == model_version:
            run = study_scoring_enqueue(
                study=study, reason="model activated", requested_by=requested_by
            )
            if run:
                runs.append(run)
    return runs


def _enqueue_cases(model_version: ModelVersion, case_ids: Sequence[int]) -> None:
    """Mark ``case_ids`` as sent and send them in chunks after the transaction commits."""
    from readerstudy.scoring.tasks import score_cases

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
        enqueue_on_commit(
            score_cases,
            queue=settings.READERSTUDY_SCORING_QUEUE,
            model_version_id=model_version.pk,
            case_ids=list(case_ids[start : start + size]),
        )


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
    model_version = model_version or active_model_for_task(study.task)
    if model_version is None:
        return None
    recent = timezone.now() - timedelta(seconds=settings.READERSTUDY_SCORING_STALE_SECONDS)
    case_ids = list(
        cases_needing_score(study, model_version)
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
        model_version = active_model_for_task(study.task)
        if model_version is None:
            continue
        with transaction.atomic():
            missing = cases_needing_score(study, model_version).exclude(
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


# --- worker side ---------------------------------------------------------------------------


def case_attempts_begin(*, model_version: ModelVersion, case_ids: Sequence[int]) -> None:
    """Count an attempt for each case before any image is touched, in its own commit, so
    that an image that kills the worker process still uses up its attempts."""
    CaseScoring.objects.bulk_create(
        [CaseScoring(case_id=pk, model_version=model_version) for pk in case_ids],
        ignore_conflicts=True,
    )
    CaseScoring.objects.filter(model_version=model_version, case_id__in=case_ids).update(
        attempts=F("attempts") + 1
    )


def case_scoring_fail(*, model_version: ModelVersion, case_id: int, error: str) -> None:
    CaseScoring.objects.filter(model_version=model_version, case_id=case_id).update(
        status=CaseScoring.Status.FAILED, error=error[:4000]
    )


def case_scoring_note_error(*, model_version: ModelVersion, case_id: int, error: str) -> None:
    CaseScoring.objects.filter(model_version=model_version, case_id=case_id).update(
        error=error[:4000]
    )


def scores_store(scores: Sequence[CnnScore]) -> int:
    """Write a batch of scores; one already stored (a redelivered task) is skipped, and so is
    one whose case was deleted meanwhile (a draft study deleted or an import undone)."""
    for _ in range(3):
        existing = set(
            Case.objects.filter(pk__in=[s.case_id for s in scores]).values_list("pk", flat=True)
        )
        scores = [s for s in scores if s.case_id in existing]
        try:
            with transaction.atomic():
                return len(CnnScore.objects.bulk_create(scores, ignore_conflicts=True))
        except IntegrityError:
            # A case went between the check and the write (its foreign key is gone): look again.
            continue
    raise RuntimeError("cases kept disappearing while their scores were written")
