"""Imports from the browser and the API: staging an upload, a worker claiming and running
its job, and undoing a finished import.

``study_import`` (readerstudy.studies.ingest.importer) is the one service every way of
importing (browser, API, command line) calls; a staged upload's job calls it in a worker.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from readerstudy.celery import enqueue_on_commit
from readerstudy.studies.ingest.archives import archive_check
from readerstudy.studies.ingest.importer import (
    ImportOptions,
    ImportSource,
    ingest_limits,
    study_import,
)
from readerstudy.studies.ingest.issues import ImportIssue, ImportRejected
from readerstudy.studies.ingest.storage import stored_images_remove
from readerstudy.studies.models import Case, ImportJob, Study

logger = logging.getLogger(__name__)

# The task that runs a staged upload (readerstudy.studies.tasks, which imports these
# services: sending it by name keeps the dependency one way).
IMPORT_JOB_RUN_TASK = "readerstudy.studies.tasks.study_import_job_run"
# A running import reports progress at least this often; a silent one has lost its worker.
IMPORT_STALE_AFTER = timedelta(minutes=2)


def import_running(study: Study) -> bool:
    return study.import_jobs.filter(
        status__in=[ImportJob.Status.PENDING, ImportJob.Status.RUNNING]
    ).exists()


def stored_files_delete_on_commit(cases: Iterable[Case], tokens: Iterable[str]) -> None:
    """Remove the cases' image files and their imports' storage folders once the rows are gone.

    After the commit: a rolled-back deletion keeps every file its rows name.
    """
    names = sorted(
        {str(f) for case in cases for f in (case.image, case.display_image, case.thumbnail) if f}
    )
    folders = [f"cases/{token}" for token in tokens]
    transaction.on_commit(lambda: stored_images_remove(names, folders))


@transaction.atomic
def import_undo(*, job: ImportJob) -> ImportJob:
    """Take back a finished import into a draft study: its cases and their images go.

    All or nothing: the cases are deleted in one transaction and their files only after it
    commits. The job stays, marked undone, as a record of what was imported and taken back.
    """
    study = Study.objects.select_for_update().get(pk=job.study_id)
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if study.status != Study.Status.DRAFT:
        raise ValidationError(
            f"only an import into a draft study can be undone; this study is {study.status}"
        )
    if job.status != ImportJob.Status.SUCCEEDED:
        raise ValidationError(f"only a finished import can be undone; this one is {job.status}")
    cases = list(Case.objects.filter(import_job=job).only("image", "display_image", "thumbnail"))
    Case.objects.filter(import_job=job).delete()
    job.status = ImportJob.Status.UNDONE
    job.phase = "undone"
    job.report = {**job.report, "undone": {"cases": len(cases), "at": timezone.now().isoformat()}}
    job.save(update_fields=["status", "phase", "report"])
    stored_files_delete_on_commit(cases, [job.token])
    return job


def import_staging_dir(job: ImportJob) -> Path:
    return Path(settings.UPLOAD_ROOT) / "imports" / job.token


_SAFE_NAME = re.compile(r"^[^/\\\x00]{1,255}$")


def import_job_create(
    *,
    study: Study,
    created_by: User,
    source: str,
    options: ImportOptions,
    zip_file: UploadedFile | None = None,
    manifest_file: UploadedFile | None = None,
    image_files: Sequence[UploadedFile] = (),
) -> ImportJob:
    """Stage an upload and queue its import; raises ImportRejected for an unusable upload.

    The upload is a zip (holding the manifest, or with ``manifest_file`` beside it) or a
    manifest with image files. A zip's members are all checked here, before anything is
    extracted, so an unsafe zip is refused at once. The import itself runs in a worker.
    """
    if study.status == Study.Status.CLOSED:
        raise ImportRejected([ImportIssue(field="study", message="the study is closed")])
    if zip_file is None and (manifest_file is None or not image_files):
        raise ImportRejected(
            [ImportIssue(message="upload a zip, or a manifest together with its image files")]
        )
    if zip_file is not None and image_files:
        raise ImportRejected([ImportIssue(message="upload either a zip or image files, not both")])
    job = ImportJob(study=study, source=source, created_by=created_by, options=options.as_dict())
    staging = import_staging_dir(job)
    upload: dict[str, object] = {}
    try:
        staging.mkdir(parents=True)
        if zip_file is not None:
            _, archive_limits, _ = ingest_limits()
            _write_upload(zip_file, staging / "upload.zip")
            plan = archive_check(staging / "upload.zip", name=zip_file.name, limits=archive_limits)
            upload.update({"zip": zip_file.name, "images": plan.image_count})
        else:
            names = [_checked_name(f) for f in image_files]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ImportRejected(
                    [ImportIssue(file=n, message="uploaded twice") for n in duplicates[:50]]
                )
            (staging / "images").mkdir()
            for uploaded, name in zip(image_files, names, strict=True):
                _write_upload(uploaded, staging / "images" / name)
            upload["images"] = len(names)
        if manifest_file is not None:
            _checked_name(manifest_file)
            _write_upload(manifest_file, staging / "manifest.csv")
            upload["manifest"] = manifest_file.name
        job.upload = upload
        with transaction.atomic():
            job.save()
            enqueue_on_commit(IMPORT_JOB_RUN_TASK, import_job_id=job.pk)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return job


def _checked_name(uploaded: UploadedFile) -> str:
    name = Path(uploaded.name or "").name
    if not _SAFE_NAME.match(name) or name in (".", ".."):
        raise ImportRejected([ImportIssue(file=name, message="unusable file name")])
    return name


def _write_upload(uploaded: UploadedFile, target: Path) -> None:
    temporary = getattr(uploaded, "temporary_file_path", None)
    if temporary is not None:
        # Large uploads already lie in FILE_UPLOAD_TEMP_DIR, under UPLOAD_ROOT: move them.
        try:
            os.replace(temporary(), target)
            return
        except OSError:
            pass
    with target.open("xb") as sink:
        for chunk in uploaded.chunks():
            sink.write(chunk)


def _import_job_claim(job_id: int) -> tuple[ImportJob | None, str]:
    """Take the job for this worker: (job, "") or (None, why not)."""
    now = timezone.now()
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return None, "gone"
        if job.finished:
            return None, "finished"
        if (
            job.status == ImportJob.Status.RUNNING
            and job.heartbeat_at
            and (now - job.heartbeat_at < IMPORT_STALE_AFTER)
        ):
            return None, "busy"
        job.status = ImportJob.Status.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.phase = "starting"
        job.save(update_fields=["status", "attempts", "started_at", "heartbeat_at", "phase"])
    return job, ""


def import_job_run(*, import_job_id: int) -> str:
    """Run a queued import (the Celery task's body); returns "done", "busy" or "finished".

    "busy" means another worker is running it right now (a redelivered message): retry
    later. A job whose worker died (no progress for IMPORT_STALE_AFTER) is taken over.
    """
    job, why_not = _import_job_claim(import_job_id)
    if job is None:
        return why_not
    staging = import_staging_dir(job)
    final = True
    try:
        zip_path = staging / "upload.zip"
        manifest = staging / "manifest.csv"
        source = ImportSource(
            images=zip_path if zip_path.exists() else staging / "images",
            manifest=manifest if manifest.exists() else None,
            images_name=str(job.upload.get("zip") or "uploaded images"),
            manifest_name=str(job.upload.get("manifest") or ""),
        )
        study_import(
            study=job.study,
            source=source,
            options=ImportOptions.from_dict(job.options),
            created_by=job.created_by,
            job=job,
            progress=_ProgressRecorder(job),
        )
    except ImportRejected as rejection:
        _import_job_fail(job, [i.as_dict() for i in rejection.issues], rejection.report)
    except (OperationalError, InterfaceError):
        final = False  # the database went away: the task is retried and takes the job over
        raise
    except Exception as error:
        logger.exception("import job %s failed", job.pk)
        message = f"the import stopped unexpectedly ({type(error).__name__}); nothing was imported"
        _import_job_fail(job, [ImportIssue(message=message).as_dict()], {})
    finally:
        if final:
            shutil.rmtree(staging, ignore_errors=True)
    return "done"


def _import_job_fail(job: ImportJob, errors: list[dict], report: dict) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.FAILED,
        phase="rejected",
        errors=errors,
        report=report,
        finished_at=timezone.now(),
    )


class _ProgressRecorder:
    """Writes an import's progress to its job row, at most twice a second."""

    interval = timedelta(milliseconds=500)

    def __init__(self, job: ImportJob) -> None:
        self.job_id = job.pk
        self.last_write = timezone.now() - self.interval
        self.last_phase = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = timezone.now()
        if phase == self.last_phase and done < total and now - self.last_write < self.interval:
            return
        self.last_write, self.last_phase = now, phase
        ImportJob.objects.filter(pk=self.job_id, status=ImportJob.Status.RUNNING).update(
            phase=phase, progress_done=done, progress_total=total, heartbeat_at=now
        )
