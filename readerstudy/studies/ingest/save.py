"""The import's last phase: the cases and their job saved in one transaction, and the study's
scoring started once it commits."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from classifier.taxonomy import Task
from readerstudy.celery import enqueue_on_commit
from readerstudy.studies.ingest.duplicates import study_duplicates
from readerstudy.studies.ingest.issues import ImportIssue, ImportRejected
from readerstudy.studies.ingest.manifests import ManifestRow
from readerstudy.studies.ingest.options import ImportOptions
from readerstudy.studies.ingest.prepare import Prepared, study_task
from readerstudy.studies.ingest.storage import StoredImage
from readerstudy.studies.models import Case, ImportJob, Study

# The scoring package's task that sends a study's unscored cases to the CNN (studies may not
# import scoring, which sits above it: the task is sent by name).
STUDY_SCORING_START_TASK = "readerstudy.scoring.tasks.study_scoring_start"


@dataclass
class ImportResult:
    study: Study
    job: ImportJob
    cases: list[Case]
    report: dict[str, object]


def cases_save(
    study: Study,
    prepared: Prepared,
    encoded: dict[int, StoredImage],
    report: dict[str, object],
    options: ImportOptions,
    created_by: User | None,
    job: ImportJob | None,
    job_source: str,
) -> ImportResult:
    """Save the study (if new), the job and the cases; ImportRejected if another import
    took an id or an image first."""
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
            by_pixels = {
                stored.image.pixel_sha256: row for row in rows if (stored := encoded.get(row.row))
            }
            clashes = study_duplicates(
                locked,
                prepared.manifest,
                by_id={row.source_id: row for row in rows},
                by_pixels=by_pixels,
            )
            if clashes:
                raise ImportRejected(clashes)
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
                    encoded[row.row],
                    task=task,
                    filename=prepared.files[row.row].name,
                )
                for offset, row in enumerate(rows)
            ]
            Case.objects.bulk_create(cases, batch_size=1000)
            # The CNN scores the new cases once they are committed; a rolled-back import
            # sends nothing.
            enqueue_on_commit(
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


def _case(
    study: Study,
    job: ImportJob,
    row: ManifestRow,
    position: int,
    stored: StoredImage,
    *,
    task: Task,
    filename: str,
) -> Case:
    image = stored.image
    return Case(
        study=study,
        import_job=job,
        position=position,
        image=stored.full,
        display_image=stored.display,
        thumbnail=stored.thumbnail,
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
