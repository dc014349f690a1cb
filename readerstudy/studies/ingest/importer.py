"""``study_import``: the one service that turns an image set and its manifest into cases.

The browser and API uploads (through a Celery task) and the ``import_study`` command all
call it. It is all-or-nothing: every check runs before anything is written to the database;
stored images are written under a folder of their own (``cases/<job token>/``) and removed
again if the import fails at any point, so a failed import leaves neither rows nor files.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from classifier.taxonomy import Task, load_taxonomy
from readerstudy.celery import enqueue_by_name_on_commit
from readerstudy.studies.ingest.archives import ArchiveLimits, archive_extract
from readerstudy.studies.ingest.folders import ImageFolder
from readerstudy.studies.ingest.images import EncodedImage, ImageLimits, images_encode_many
from readerstudy.studies.ingest.issues import ImportIssue, ImportRejected, IssueCollector
from readerstudy.studies.ingest.manifests import FORMATS, Manifest, ManifestRow, manifest_parse
from readerstudy.studies.ingest.report import import_report
from readerstudy.studies.ingest.selection import Selection, rows_select
from readerstudy.studies.ingest.storage import (
    images_store,
    storage_folder_remove,
    stored_files_delete,
)
from readerstudy.studies.models import Case, ImportJob, Study

logger = logging.getLogger(__name__)

# The scoring package's task that sends a study's unscored cases to the CNN (studies may not
# import scoring, which sits above it: the task is sent by name).
STUDY_SCORING_START_TASK = "readerstudy.scoring.tasks.study_scoring_start"


@dataclass(frozen=True)
class ImportOptions:
    """What a coordinator chose for one import (stored on the ImportJob as JSON)."""

    manifest_format: str = "auto"
    biopsy_proven_only: bool = False
    sample: dict[str, int] | None = None
    seed: int | None = None
    limit: int | None = None
    allow_same_lesion: bool = False

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ImportOptions:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ImportSource:
    """Where the files are: ``images`` is a folder or a .zip; ``manifest`` None means the one
    CSV file inside it. The names are what users called the files (shown in messages)."""

    images: Path
    manifest: Path | None = None
    images_name: str = ""
    manifest_name: str = ""


@dataclass
class ImportResult:
    study: Study
    job: ImportJob
    cases: list[Case]
    report: dict[str, object]


ProgressCallback = Callable[[str, int, int], None]


@dataclass
class _Prepared:
    manifest: Manifest
    selection: Selection
    folder: ImageFolder
    files: dict[int, Path] = field(default_factory=dict)  # manifest row -> image file


def ingest_limits() -> tuple[ImageLimits, ArchiveLimits, dict[str, int]]:
    config = settings.READERSTUDY_INGEST
    images = ImageLimits(
        max_pixels=config["MAX_PIXELS"],
        max_bytes=config["MAX_IMAGE_BYTES"],
        display_max_side=config["DISPLAY_MAX_SIDE"],
        thumbnail_max_side=config["THUMBNAIL_MAX_SIDE"],
        jpeg_quality=config["JPEG_QUALITY"],
    )
    archives = ArchiveLimits(
        max_members=config["ZIP_MAX_MEMBERS"],
        max_total_bytes=config["ZIP_MAX_TOTAL_BYTES"],
        max_ratio=config["ZIP_MAX_RATIO"],
    )
    return images, archives, config


def study_task(study: Study) -> Task:
    """The study's task as it was when the study was created (its stored snapshot)."""
    definition = study.task_definition
    return Task(
        name=str(definition["name"]),
        label=str(definition.get("label") or definition["name"]),
        positive=frozenset(definition["positive"]),
        negative=frozenset(definition["negative"]),
    )


def study_import(
    *,
    study: Study,
    source: ImportSource,
    options: ImportOptions,
    created_by: User | None = None,
    job: ImportJob | None = None,
    job_source: str = ImportJob.Source.CLI,
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
        images_root, left_out = _unpack(source, staging, archive_limits, report_progress)
        prepared = _prepare(study, source, images_root, left_out, options, config, issues)
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
        encoded = _encode_all(
            study, prepared, image_limits, config, issues, stored, storage_folder, report_progress
        )
        issues.raise_if_any(report=report)
        report_progress("saving cases", len(encoded), len(encoded))
        result = _save(study, prepared, encoded, report, options, created_by, job, job_source)
    except BaseException:
        stored_files_delete(stored, storage_folder)
        raise
    finally:
        # A job's own staging folder (its upload) is removed by import_job_run.
        shutil.rmtree(staging if job is not None else staging.parent, ignore_errors=True)
    return result


def _unpack(
    source: ImportSource, staging: Path, limits: ArchiveLimits, progress: ProgressCallback
) -> tuple[Path, list[str]]:
    """The folder of images, and the zip members left packed (neither image nor CSV)."""
    name = source.images_name or source.images.name
    if source.images.is_dir():
        return source.images, []
    if not source.images.is_file():
        raise ImportRejected([ImportIssue(file=name, message="no such file or folder")])
    progress("unpacking the zip", 0, 0)
    shutil.rmtree(staging, ignore_errors=True)
    plan = archive_extract(source.images, staging, name=name, limits=limits)
    return staging, plan.ignored


def _prepare(
    study: Study,
    source: ImportSource,
    images_root: Path,
    left_out: list[str],
    options: ImportOptions,
    config: dict[str, int],
    issues: IssueCollector,
) -> _Prepared | None:
    folder = ImageFolder.scan(images_root, left_out=left_out)
    manifest_path, manifest_name = source.manifest, source.manifest_name
    if manifest_path is None:
        found = sorted(p for p in images_root.rglob("*.csv") if "__MACOSX" not in p.parts)
        found = [p for p in found if not p.name.startswith(".")]
        if len(found) != 1:
            where = source.images_name or source.images.name
            issues.add(
                ImportIssue(
                    file=where,
                    message=f"{len(found)} CSV files found; the upload must hold exactly one "
                    "manifest (or name the manifest separately)",
                )
            )
            return None
        manifest_path = found[0]
        manifest_name = found[0].relative_to(images_root).as_posix()
    manifest = manifest_parse(
        manifest_path,
        name=manifest_name or manifest_path.name,
        taxonomy=load_taxonomy(),
        issues=issues,
        manifest_format=options.manifest_format,
        max_bytes=config["MANIFEST_MAX_BYTES"],
        max_rows=config["MANIFEST_MAX_ROWS"],
    )
    if manifest is None:
        return None
    selection = rows_select(
        manifest,
        task=study_task(study),
        modality=study.modality,
        require_biopsy_proven=study.require_biopsy_proven,
        biopsy_proven_only=options.biopsy_proven_only,
        issues=issues,
        sample=options.sample,
        limit=options.limit,
        seed=options.seed,
        allow_same_lesion=options.allow_same_lesion,
    )
    prepared = _Prepared(manifest=manifest, selection=selection, folder=folder)
    if not selection.rows and not issues:
        excluded = len(selection.excluded)
        issues.add(
            ImportIssue(
                file=manifest.name,
                message=f"no case to import: all {excluded} rows were left out (see the report)"
                if excluded
                else "no case to import: the manifest has no rows",
            )
        )
    duplicate_rows = _check_duplicate_ids(study, manifest, issues)
    used_by: dict[str, int] = {}
    image_column = manifest.columns.image
    for row in selection.rows:
        if row.row in duplicate_rows:
            continue
        relative, problem = folder.resolve(row.image_ref)
        if relative is None:
            issues.add(_row_issue(manifest, row, image_column, problem))
            continue
        if relative in used_by:
            issues.add(
                _row_issue(
                    manifest,
                    row,
                    image_column,
                    f"duplicate image: {relative} is also the image of row {used_by[relative]}",
                )
            )
            continue
        used_by[relative] = row.row
        prepared.files[row.row] = folder.by_path[relative]
    return prepared


def _check_duplicate_ids(study: Study, manifest: Manifest, issues: IssueCollector) -> set[int]:
    """Rows whose id another row or a case of the study has (each reported once)."""
    column = manifest.columns.source_id or manifest.columns.image
    first_row: dict[str, int] = {}
    duplicates: set[int] = set()
    for row in manifest.rows:
        if row.source_id in first_row:
            duplicates.add(row.row)
            issues.add(
                _row_issue(
                    manifest,
                    row,
                    column,
                    f"duplicate id {row.source_id!r}: row {first_row[row.source_id]} has it too",
                )
            )
        else:
            first_row[row.source_id] = row.row
    if study.pk is None:
        return duplicates
    existing = {value for value, _ in _existing(study, "source_id", list(first_row))}
    for row in manifest.rows:
        if row.source_id in existing and first_row.get(row.source_id) == row.row:
            duplicates.add(row.row)
            issues.add(
                _row_issue(
                    manifest, row, column, f"duplicate id {row.source_id!r}: already in the study"
                )
            )
    return duplicates


def _existing(
    study: Study, field: str, values: list[str], *, also: str = "source_id"
) -> list[tuple[str, str]]:
    """(value, ``also``) of the study's cases whose ``field`` is in ``values``; queried in
    chunks, since SQLite caps the parameters of one statement."""
    if not values or not Case.objects.filter(study=study).exists():
        return []
    found: list[tuple[str, str]] = []
    for start in range(0, len(values), 5000):
        chunk = values[start : start + 5000]
        found += Case.objects.filter(study=study, **{f"{field}__in": chunk}).values_list(
            field, also
        )
    return found


def _row_issue(manifest: Manifest, row: ManifestRow, column: str, message: str) -> ImportIssue:
    return ImportIssue(
        file=manifest.name, row=row.row, field=column, value=row.image_ref, message=message
    )


def _encode_all(
    study: Study,
    prepared: _Prepared,
    limits: ImageLimits,
    config: dict[str, int],
    issues: IssueCollector,
    stored: list[str],
    storage_folder: str,
    progress: ProgressCallback,
) -> dict[int, tuple[EncodedImage, str, str, str]]:
    """Decode, check and store every selected image; returns row -> (image, stored names).

    The worker threads store files as long as no error has been found (in the manifest or an
    image); after the first error the rest are still checked (to report them all) but
    nothing more is written, and what was written is removed.
    """
    manifest = prepared.manifest
    column = manifest.columns.image
    rows = {row.row: row for row in prepared.selection.rows}
    jobs = [(row_number, str(path)) for row_number, path in prepared.files.items()]
    total = len(jobs)
    progress("processing images", 0, total)
    seen: dict[str, int] = {}
    encoded: dict[int, tuple[EncodedImage, str, str, str]] = {}
    keep_writing = threading.Event()
    if not issues:
        keep_writing.set()

    def store(image: EncodedImage) -> tuple[str, str, str] | None:
        if not keep_writing.is_set():
            return None
        return images_store(image, storage_folder, stored)

    results = images_encode_many(jobs, limits, config["WORKERS"], store)
    for done, (row_number, image, names, problem) in enumerate(results, start=1):
        row = rows[row_number]
        name = prepared.files[row_number].name
        if image is None:
            issues.add(_row_issue(manifest, row, column, f"unreadable image {name}: {problem}"))
        elif image.pixel_sha256 in seen:
            issues.add(
                _row_issue(
                    manifest,
                    row,
                    column,
                    f"duplicate image content: {name} has the same pixels as the image of "
                    f"row {seen[image.pixel_sha256]}",
                )
            )
        else:
            seen[image.pixel_sha256] = row_number
            if names is not None:
                encoded[row_number] = (image, *names)
        if issues:
            keep_writing.clear()
        progress("processing images", done, total)
        if issues.full:
            break
    results.close()  # waits for the threads, so nothing is written after this
    if issues:
        stored_files_delete(stored, storage_folder)
        encoded.clear()
    if study.pk is not None:
        clashes = _existing(study, "pixel_sha256", list(seen), also="source_id")
        for sha, source_id in clashes:
            issues.add(
                _row_issue(
                    manifest,
                    rows[seen[sha]],
                    column,
                    f"duplicate image content: same pixels as case {source_id or '(no id)'} "
                    "already in the study",
                )
            )
    return encoded


def _save(
    study: Study,
    prepared: _Prepared,
    encoded: dict[int, tuple[EncodedImage, str, str, str]],
    report: dict[str, object],
    options: ImportOptions,
    created_by: User | None,
    job: ImportJob | None,
    job_source: str,
) -> ImportResult:
    task = study_task(study)
    rows = prepared.selection.rows
    try:
        with transaction.atomic():
            if study.pk is None:
                study.save()
                if created_by is not None:
                    study.coordinators.add(created_by)
            # The lock serialises imports into one study: positions and duplicate checks
            # below see every case committed before.
            locked = Study.objects.select_for_update().get(pk=study.pk)
            if locked.status == Study.Status.CLOSED:
                raise ImportRejected([ImportIssue(field="study", message="the study is closed")])
            _recheck_duplicates(locked, prepared, encoded)
            start = (Case.objects.filter(study=locked).aggregate(m=Max("position"))["m"] or -1) + 1
            if job is None:
                job = ImportJob(study=locked, source=job_source, created_by=created_by)
            imported = Counter(row.diagnosis for row in rows)
            positives = sum(1 for row in rows if task.truth(row.diagnosis) == 1)
            report.update(
                {
                    "imported": dict(sorted(imported.items())),
                    "imported_total": len(rows),
                    "imported_truth": {"positive": positives, "negative": len(rows) - positives},
                    "positions": [start, start + len(rows) - 1] if rows else [],
                    **_study_truth_after(locked, positives, len(rows) - positives),
                }
            )
            job.study = locked
            job.status = ImportJob.Status.SUCCEEDED
            job.phase = "done"
            job.options = options.as_dict()
            job.report = report
            job.errors = []
            job.cases_created = len(rows)
            job.progress_done = job.progress_total = len(rows)
            job.finished_at = timezone.now()
            job.save()
            cases = [
                _case(
                    locked,
                    job,
                    row,
                    start + offset,
                    *encoded[row.row],
                    task=task,
                    filename=prepared.files[row.row].name,
                )
                for offset, row in enumerate(rows)
            ]
            Case.objects.bulk_create(cases, batch_size=1000)
            # The CNN scores the new cases once they are committed; a rolled-back import
            # sends nothing.
            enqueue_by_name_on_commit(
                STUDY_SCORING_START_TASK,
                study_id=locked.pk,
                reason="import",
                requested_by_id=created_by.pk if created_by is not None else None,
            )
    except IntegrityError as error:
        raise ImportRejected(
            [ImportIssue(message=f"another import changed the study at the same time: {error}")]
        ) from None
    return ImportResult(study=locked, job=job, cases=cases, report=report)


def _study_truth_after(study: Study, positives: int, negatives: int) -> dict[str, object]:
    """The study's positive and negative cases once this import is in, and a warning when one
    kind is missing: the study cannot open without both (say so now, not only at opening)."""
    truth = {
        "positive": positives + Case.objects.filter(study=study, truth=True).count(),
        "negative": negatives + Case.objects.filter(study=study, truth=False).count(),
    }
    missing = [kind for kind, count in truth.items() if not count]
    warnings = [
        f"the study has no {kind} case yet: it cannot be opened until an import adds one "
        "(readers' sensitivity and specificity need both)"
        for kind in missing
    ]
    return {"study_truth": truth, "warnings": warnings}


def _recheck_duplicates(
    study: Study, prepared: _Prepared, encoded: dict[int, tuple[EncodedImage, str, str, str]]
) -> None:
    manifest = prepared.manifest
    by_hash = {image.pixel_sha256: row_number for row_number, (image, *_) in encoded.items()}
    by_id = {row.source_id: row for row in prepared.selection.rows}
    issues = []
    clashes = _existing(study, "pixel_sha256", list(by_hash), also="source_id")
    rows = {row.row: row for row in prepared.selection.rows}
    for sha, source_id in clashes:
        issues.append(
            _row_issue(
                manifest,
                rows[by_hash[sha]],
                manifest.columns.image,
                f"duplicate image content: same pixels as case {source_id or '(no id)'} "
                "already in the study",
            )
        )
    for source_id, _ in _existing(study, "source_id", list(by_id)):
        issues.append(
            _row_issue(
                manifest,
                by_id[source_id],
                manifest.columns.source_id or manifest.columns.image,
                f"duplicate id {source_id!r}: already in the study",
            )
        )
    if issues:
        raise ImportRejected(issues)


def _case(
    study: Study,
    job: ImportJob,
    row: ManifestRow,
    position: int,
    image: EncodedImage,
    full: str,
    display: str,
    thumbnail: str,
    *,
    task: Task,
    filename: str,
) -> Case:
    return Case(
        study=study,
        import_job=job,
        position=position,
        image=full,
        display_image=display,
        thumbnail=thumbnail,
        width=image.width,
        height=image.height,
        pixel_sha256=image.pixel_sha256,
        diagnosis=row.diagnosis,
        diagnosis_label=row.diagnosis_label,
        truth=task.truth(row.diagnosis) == 1,
        biopsy_proven=row.biopsy_proven,
        confirmation=row.confirmation,
        source_id=row.source_id,
        source_filename=filename[:255],
        lesion_id=row.lesion_id,
        age=row.age,
        sex=row.sex,
        site=row.site,
        source_format=image.source_format,
        source_jpeg_quality=image.source_jpeg_quality,
        mean_rgb=list(image.mean_rgb),
        border_rgb=list(image.border_rgb),
    )
