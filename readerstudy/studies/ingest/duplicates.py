"""Duplicates an import refuses, and the one way each is reported.

Within the manifest (two rows with one id, one image file or the same pixels) and against the
study's cases (an id or pixels already in it). The study's cases are checked twice: before any
image is stored, to report everything in one round, and again under the study's lock just
before saving, since another import may have committed meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from readerstudy.studies.ingest.issues import ImportIssue, IssueCollector
from readerstudy.studies.ingest.manifests import Manifest, ManifestRow
from readerstudy.studies.models import Case, Study

# SQLite caps the parameters of one statement.
_QUERY_CHUNK = 5000
IN_STUDY = "already in the study"


def row_issue(manifest: Manifest, row: ManifestRow, column: str, message: str) -> ImportIssue:
    """An issue of one manifest row, naming its image reference."""
    return ImportIssue(
        file=manifest.name, row=row.row, field=column, value=row.image_ref, message=message
    )


def duplicate_issue(
    manifest: Manifest, row: ManifestRow, kind: Literal["id", "image", "pixels"], clash: str
) -> ImportIssue:
    """``row`` duplicates something (``clash`` says what): its id, its image file or its
    image's pixels."""
    if kind == "id":
        column = manifest.columns.source_id or manifest.columns.image
        message = f"duplicate id {row.source_id!r}: {clash}"
    else:
        column = manifest.columns.image
        message = f"duplicate image{' content' if kind == 'pixels' else ''}: {clash}"
    return row_issue(manifest, row, column, message)


def study_values(
    study: Study, field: str, values: list[str], *, also: str = "source_id"
) -> list[tuple[str, str]]:
    """(value, ``also``) of the study's cases whose ``field`` is in ``values``."""
    if study.pk is None or not values or not Case.objects.filter(study=study).exists():
        return []
    found: list[tuple[str, str]] = []
    for start in range(0, len(values), _QUERY_CHUNK):
        chunk = values[start : start + _QUERY_CHUNK]
        found += Case.objects.filter(study=study, **{f"{field}__in": chunk}).values_list(
            field, also
        )
    return found


def study_duplicates(
    study: Study,
    manifest: Manifest,
    *,
    by_id: Mapping[str, ManifestRow] | None = None,
    by_pixels: Mapping[str, ManifestRow] | None = None,
) -> list[ImportIssue]:
    """Rows whose pixels or id a case of the study already has, in row order."""
    issues = []
    for sha, source_id in study_values(study, "pixel_sha256", list(by_pixels or {})):
        clash = f"same pixels as case {source_id or '(no id)'} {IN_STUDY}"
        issues.append(duplicate_issue(manifest, (by_pixels or {})[sha], "pixels", clash))
    for source_id, _ in study_values(study, "source_id", list(by_id or {})):
        issues.append(duplicate_issue(manifest, (by_id or {})[source_id], "id", IN_STUDY))
    return sorted(issues, key=lambda issue: issue.row)


def duplicate_ids_check(study: Study, manifest: Manifest, issues: IssueCollector) -> set[int]:
    """Rows whose id another row or a case of the study has (each reported once)."""
    first_row: dict[str, ManifestRow] = {}
    duplicates: set[int] = set()
    for row in manifest.rows:
        if row.source_id in first_row:
            duplicates.add(row.row)
            clash = f"row {first_row[row.source_id].row} has it too"
            issues.add(duplicate_issue(manifest, row, "id", clash))
        else:
            first_row[row.source_id] = row
    for issue in study_duplicates(study, manifest, by_id=first_row):
        duplicates.add(issue.row)
        issues.add(issue)
    return duplicates
