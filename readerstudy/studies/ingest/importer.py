"""``study_import``: the one service that turns an image set and its manifest into cases.

The browser and API uploads (through a Celery task) and the ``import_study`` command all
call it. It is all-or-nothing: every check runs before anything is written to the database;
stored images are written under a folder of their own (``cases/<job token>/``) and removed
again if the import fails at any point, so a failed import leaves neither rows nor files.

It runs in phases, one module each: ``prepare`` (unpack, manifest, selection, files),
``encode`` (check and store the images), ``save`` (the cases, in one transaction);
``duplicates`` reports what an import refuses as a duplicate.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User

from readerstudy.studies.ingest.encode import images_encode_and_store
from readerstudy.studies.ingest.issues import ImportIssue, ImportRejected, IssueCollector
from readerstudy.studies.ingest.manifests import FORMATS
from readerstudy.studies.ingest.options import (
    ImportOptions,
    ImportSource,
    ProgressCallback,
    ingest_limits,
)
from readerstudy.studies.ingest.prepare import prepare, study_task, unpack
from readerstudy.studies.ingest.report import import_report
from readerstudy.studies.ingest.save import STUDY_SCORING_START_TASK, ImportResult, cases_save
from readerstudy.studies.ingest.storage import storage_folder_remove, stored_files_delete
from readerstudy.studies.models import ImportJob, Study

__all__ = [
    "STUDY_SCORING_START_TASK",
    "ImportOptions",
    "ImportResult",
    "ImportSource",
    "ProgressCallback",
    "ingest_limits",
    "study_import",
    "study_task",
]


def study_import(
    *,
    study: Study,
    source: ImportSource,
    options: ImportOptions,
    created_by: User | None = None,
    job: ImportJob | None = None,
    job_source: str = str(ImportJob.Source.CLI),
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Import an image set into ``study``; raises ImportRejected and imports nothing on error.

    ``study`` may be unsaved (the ``import_study`` command creates a study and its cases in
    one transaction). ``job`` is the browser/API upload's ImportJob; without one a job
    recording this import is created with the cases. ``progress(phase, done, total)`` is
    called as images are processed.
    """
    image_limits, archive_limits, config = ingest_limits()
    report_progress = progress or (lambda phase, done, total: None)
    issues = IssueCollector(cap=config["MAX_ERRORS"])
    token = job.token if job is not None else uuid.uuid4().hex
    staging = Path(settings.UPLOAD_ROOT) / "imports" / token / "unpacked"
    storage_folder = f"cases/{token}"
    stored: list[str] = []
    if study.status == Study.Status.CLOSED:
        raise ImportRejected([ImportIssue(field="study", message="the study is closed")])
    if options.manifest_format not in ("auto", *FORMATS):
        raise ImportRejected(
            [ImportIssue(field="format", message=f"unknown format {options.manifest_format!r}")]
        )
    # A redelivered task may find files of an attempt whose worker died: start clean.
    storage_folder_remove(storage_folder)
    try:
        images_root, left_out = unpack(source, staging, archive_limits, report_progress)
        prepared = prepare(study, source, images_root, left_out, options, config, issues)
        report = import_report(
            task_name=study.task,
            images_name=source.images_name or source.images.name,
            options=options.as_dict(),
            manifest=prepared.manifest if prepared else None,
            selection=prepared.selection if prepared else None,
            folder=prepared.folder if prepared else None,
        )
        if prepared is None:
            issues.raise_if_any(report=report)
        assert prepared is not None
        # The images are checked even when the manifest has errors, so that one round lists
        # every problem (nothing is stored then).
        encoded = images_encode_and_store(
            study, prepared, image_limits, config, issues, stored, storage_folder, report_progress
        )
        issues.raise_if_any(report=report)
        report_progress("saving cases", len(encoded), len(encoded))
        result = cases_save(study, prepared, encoded, report, options, created_by, job, job_source)
    except BaseException:
        stored_files_delete(stored, storage_folder)
        raise
    finally:
        # A job's own staging folder (its upload) is removed by import_job_run.
        shutil.rmtree(staging if job is not None else staging.parent, ignore_errors=True)
    return result
