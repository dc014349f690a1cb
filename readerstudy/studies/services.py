"""Writes of the studies package: studies, their imports and their readers.

``study_import`` (readerstudy.studies.ingest.importer) is re-exported here: it is the one
service every way of importing (browser, API, command line) calls.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone

from classifier.taxonomy import Task, TaxonomyError, load_taxonomy
from readerstudy.accounts.roles import Role, has_role
from readerstudy.accounts.services import password_set_path, user_create
from readerstudy.celery import enqueue_by_name_on_commit
from readerstudy.studies.confounds import (
    confound_warnings_acknowledge,
    confound_warnings_unacknowledged,
    study_confound_audit,
)
from readerstudy.studies.ingest.archives import archive_check
from readerstudy.studies.ingest.importer import (
    ImportOptions,
    ImportResult,
    ImportSource,
    ingest_limits,
    study_import,
)
from readerstudy.studies.ingest.issues import ImportIssue, ImportRejected
from readerstudy.studies.ingest.storage import stored_images_remove
from readerstudy.studies.models import Case, Enrolment, ImportJob, Study

__all__ = [
    "EnrolmentOutcome",
    "ImportOptions",
    "ImportResult",
    "ImportSource",
    "enrolment_create",
    "import_job_create",
    "import_job_run",
    "import_undo",
    "readers_enrol",
    "require_biopsy_proven_default",
    "study_build",
    "study_create",
    "study_delete",
    "study_import",
    "study_status_set",
    "study_update",
    "task_resolve",
]

logger = logging.getLogger(__name__)

# The task that runs a staged upload (readerstudy.studies.tasks, which imports these
# services: sending it by name keeps the dependency one way).
IMPORT_JOB_RUN_TASK = "readerstudy.studies.tasks.study_import_job_run"
# A running import reports progress at least this often; a silent one has lost its worker.
IMPORT_STALE_AFTER = timedelta(minutes=2)
EDITABLE_WHILE_DRAFT = (
    "name",
    "question",
    "confidence_scale",
    "allow_answer_changes",
    "show_clinical_info",
    "show_feedback",
    "require_biopsy_proven",
    "modality",
)
# Later settings that do not change what a reader sees when grading.
EDITABLE_ALWAYS = ("name", "show_feedback")
# The steps a study may take: a closed study may be reopened (closing by mistake is undone).
STATUS_STEPS = {
    Study.Status.DRAFT: {Study.Status.OPEN},
    Study.Status.OPEN: {Study.Status.CLOSED},
    Study.Status.CLOSED: {Study.Status.OPEN},
}


# --- Studies ------------------------------------------------------------------------------


def task_resolve(*, name: str = "", mapping: dict | None = None, path: Path | None = None) -> Task:
    """A built-in task by name, or a custom task from a mapping or a JSON mapping file.

    Raises ValidationError with the taxonomy's message. A custom task may not take the
    name of a built-in one.
    """
    taxonomy = load_taxonomy()
    try:
        if path is not None:
            task = taxonomy.task_from_file(path)
        elif mapping is not None:
            task = taxonomy.task_from_mapping(mapping, source="task mapping")
        else:
            return taxonomy.task(name)
    except TaxonomyError as error:
        raise ValidationError(str(error)) from None
    if task.name in taxonomy.tasks:
        raise ValidationError(
            f"a custom task may not be called {task.name!r}: that is a built-in task"
        )
    return task


def require_biopsy_proven_default() -> bool:
    """Whether a new study requires biopsy proof when its creator does not say."""
    return bool(settings.READERSTUDY_REQUIRE_BIOPSY_PROVEN_DEFAULT)


def study_build(
    *,
    name: str,
    task: Task,
    modality: str,
    created_by: User,
    question: str = "",
    confidence_scale: str = Study.ConfidenceScale.PERCENT,
    allow_answer_changes: bool = False,
    show_clinical_info: bool = False,
    show_feedback: bool = False,
    require_biopsy_proven: bool | None = None,
) -> Study:
    """A validated, unsaved study (``study_import`` saves it together with its cases).

    ``require_biopsy_proven=None`` takes READERSTUDY_REQUIRE_BIOPSY_PROVEN_DEFAULT.
    """
    if require_biopsy_proven is None:
        require_biopsy_proven = require_biopsy_proven_default()
    study = Study(
        name=name.strip(),
        task=task.name,
        task_definition=task.to_dict(),
        taxonomy_version=load_taxonomy().version,
        modality=modality,
        confidence_scale=confidence_scale,
        allow_answer_changes=allow_answer_changes,
        show_clinical_info=show_clinical_info,
        show_feedback=show_feedback,
        require_biopsy_proven=require_biopsy_proven,
        created_by=created_by,
    )
    if question.strip():
        study.question = question.strip()
    study.full_clean()
    return study


@transaction.atomic
def study_create(**fields: object) -> Study:
    """Create a draft study (see study_build) coordinated by its creator."""
    study = study_build(**fields)  # type: ignore[arg-type]
    study.save()
    study.coordinators.add(study.created_by)
    return study


@transaction.atomic
def study_update(*, study: Study, **changes: object) -> Study:
    """Change a study's settings; while it is open or closed only its name and feedback.

    Requiring biopsy proof is refused while the study holds a case without it.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    allowed = EDITABLE_WHILE_DRAFT if study.status == Study.Status.DRAFT else EDITABLE_ALWAYS
    refused = sorted(k for k, v in changes.items() if k not in allowed and getattr(study, k) != v)
    if refused:
        raise ValidationError(
            f"{', '.join(refused)} cannot be changed once the study is {study.status}"
        )
    if "modality" in changes and changes["modality"] != study.modality and study.cases.exists():
        raise ValidationError("the modality cannot change once cases are imported")
    if changes.get("require_biopsy_proven") and not study.require_biopsy_proven:
        unproven = study.cases.filter(biopsy_proven=False).count()
        if unproven:
            raise ValidationError(
                f"{unproven} cases of this study are not biopsy-proven; it cannot require "
                "biopsy proof"
            )
    for key, value in changes.items():
        setattr(study, key, value.strip() if isinstance(value, str) else value)
    study.full_clean()
    study.save()
    return study


@transaction.atomic
def study_status_set(*, study: Study, status: str, acknowledged_by: User | None = None) -> Study:
    """Move a study one step: draft -> open -> closed, or reopen a closed study.

    Opening needs positive and negative cases, no import still running, and every warning of
    the confound audit acknowledged: ``acknowledged_by`` records that this coordinator
    acknowledges the current warnings. Readers may be enrolled later. Reopening lets readers
    go on where they stopped.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    if status == study.status:
        return study
    if status not in STATUS_STEPS.get(study.status, set()):
        raise ValidationError(f"a {study.status} study cannot become {status}")
    if status == Study.Status.OPEN:
        if not study.cases.exists():
            raise ValidationError("import cases before opening the study")
        truths = set(study.cases.values_list("truth", flat=True).distinct())
        if truths != {True, False}:
            missing = "positive" if True not in truths else "negative"
            raise ValidationError(
                f"the study has no {missing} case: readers' sensitivity and specificity need both"
            )
        if _import_running(study):
            raise ValidationError("wait for the running import to finish")
        _confounds_check(study, acknowledged_by)
    study.status = status
    study.save(update_fields=["status", "updated_at"])
    return study


def _import_running(study: Study) -> bool:
    return study.import_jobs.filter(
        status__in=[ImportJob.Status.PENDING, ImportJob.Status.RUNNING]
    ).exists()


def _stored_files_delete_on_commit(cases: Iterable[Case], tokens: Iterable[str]) -> None:
    """Remove the cases' image files and their imports' storage folders once the rows are gone.

    After the commit: a rolled-back deletion keeps every file its rows name.
    """
    names = sorted(
        {str(f) for case in cases for f in (case.image, case.display_image, case.thumbnail) if f}
    )
    folders = [f"cases/{token}" for token in tokens]
    transaction.on_commit(lambda: stored_images_remove(names, folders))


@transaction.atomic
def study_delete(*, study: Study) -> None:
    """Delete a draft study with its cases, imports and enrolments, and its stored images.

    Only a draft: an open or closed study holds readers' answers. Refused while an import
    is running (it would write into the deleted study).
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status != Study.Status.DRAFT:
        raise ValidationError(f"only a draft study can be deleted; this one is {study.status}")
    if _import_running(study):
        raise ValidationError("wait for the running import to finish")
    cases = list(Case.objects.filter(study=study).only("image", "display_image", "thumbnail"))
    tokens = list(study.import_jobs.values_list("token", flat=True))
    study.delete()
    _stored_files_delete_on_commit(cases, tokens)


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
    _stored_files_delete_on_commit(cases, [job.token])
    return job


def _confounds_check(study: Study, acknowledged_by: User | None) -> None:
    audit = study_confound_audit(study)
    if acknowledged_by is not None:
        confound_warnings_acknowledge(study=study, user=acknowledged_by, audit=audit)
    unacknowledged = confound_warnings_unacknowledged(study, audit)
    if unacknowledged:
        raise ValidationError(
            "the confound audit warns that something other than the lesion predicts the "
            f"truth ({'; '.join(unacknowledged)}): review it and acknowledge the warnings "
            "to open the study"
        )


# --- Imports from the browser and the API -------------------------------------------------


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
            enqueue_by_name_on_commit(IMPORT_JOB_RUN_TASK, import_job_id=job.pk)
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


# --- Readers ------------------------------------------------------------------------------


@dataclass
class EnrolmentOutcome:
    """One reader's enrolment; for a new account, its one-time password or set-password path."""

    enrolment: Enrolment
    created_account: bool = False
    already_enrolled: bool = False
    initial_password: str | None = None
    set_password_path: str | None = None


def _next_pseudonym(study: Study) -> str:
    numbers = [
        int(p[1:])
        for p in Enrolment.objects.filter(study=study).values_list("pseudonym", flat=True)
        if p[:1] == "R" and p[1:].isdigit()
    ]
    return f"R{max(numbers, default=0) + 1:02d}"


def enrolment_create(
    *, study: Study, reader: User, enrolled_by: User | None = None, simulated: bool = False
) -> tuple[Enrolment, bool]:
    """Enrol ``reader`` (who must hold the Reader role); (enrolment, created).

    Pseudonyms R01, R02, ... follow the enrolment order. Two coordinators enrolling at the
    same moment could pick the same pseudonym; the unique constraint refuses the second,
    which then takes the next number.
    """
    if not has_role(reader, Role.READER):
        raise ValidationError(f"{reader.username} is not a reader")
    if study.status == Study.Status.CLOSED:
        raise ValidationError("the study is closed")
    existing = Enrolment.objects.filter(study=study, reader=reader).first()
    if existing is not None:
        return existing, False
    for _ in range(20):
        try:
            with transaction.atomic():
                enrolment = Enrolment.objects.create(
                    study=study,
                    reader=reader,
                    enrolled_by=enrolled_by,
                    simulated=simulated,
                    pseudonym=_next_pseudonym(study),
                )
            return enrolment, True
        except IntegrityError:
            existing = Enrolment.objects.filter(study=study, reader=reader).first()
            if existing is not None:
                return existing, False
    raise RuntimeError("could not find a free pseudonym after 20 tries")


_USERNAME = re.compile(r"^[\w.@+-]{1,150}$")


def readers_enrol(
    *,
    study: Study,
    usernames: Iterable[str],
    enrolled_by: User | None,
    create: bool = False,
    credentials: str = "password",
) -> list[EnrolmentOutcome]:
    """Enrol readers by username, creating missing accounts when ``create`` is set.

    A new account gets a random initial password (``credentials="password"``, returned once)
    or none and a one-time set-password link (``credentials="link"``). All or nothing: an
    unknown name without ``create``, or a user who is not a reader, enrols no one.
    """
    names = list(dict.fromkeys(n.strip() for n in usernames if n.strip()))
    if not names:
        raise ValidationError("name at least one reader")
    if credentials not in ("password", "link"):
        raise ValidationError("credentials must be 'password' or 'link'")
    bad = [n for n in names if not _USERNAME.match(n)]
    if bad:
        raise ValidationError(f"not a valid username: {', '.join(bad)}")
    users = {u.username: u for u in User.objects.filter(username__in=names)}
    problems = []
    for name in names:
        user = users.get(name)
        if user is None and not create:
            problems.append(f"{name}: no such user (create the account with --create)")
        elif user is not None and not has_role(user, Role.READER):
            problems.append(f"{name}: not a reader")
    if problems:
        raise ValidationError(problems)
    outcomes = []
    with transaction.atomic():
        for name in names:
            outcome_user = users.get(name)
            password = None
            if outcome_user is None:
                outcome_user, password = user_create(
                    username=name,
                    roles=[Role.READER],
                    password=None if credentials == "password" else "",
                )
            enrolment, created = enrolment_create(
                study=study, reader=outcome_user, enrolled_by=enrolled_by
            )
            outcomes.append(
                EnrolmentOutcome(
                    enrolment=enrolment,
                    created_account=name not in users,
                    already_enrolled=not created,
                    initial_password=password,
                    set_password_path=(
                        password_set_path(outcome_user)
                        if name not in users and credentials == "link"
                        else None
                    ),
                )
            )
    return outcomes
