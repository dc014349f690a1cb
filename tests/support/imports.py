"""Importing an image set into a study, as the command line does (in-process)."""

from __future__ import annotations

from pathlib import Path

from readerstudy.studies.models import Study
from readerstudy.studies.services import ImportOptions, ImportResult, ImportSource, study_import


def import_set(
    study: Study, images: Path, manifest: Path | None = None, **options: object
) -> ImportResult:
    return study_import(
        study=study,
        source=ImportSource(images=images, manifest=manifest),
        options=ImportOptions(**options),  # type: ignore[arg-type]
        created_by=study.created_by,
    )
