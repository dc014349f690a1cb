"""Shared set-up of the benchmarks: studies of real HAM10000 images, imported through the real
ingest path (manifest validation, re-encoding, storage, and the scoring messages on commit)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def bench_coordinator() -> Any:
    """The coordinator who owns the benchmarks' studies."""
    from readerstudy.accounts.roles import Role
    from readerstudy.accounts.services import user_create

    coordinator, _ = user_create(username="bench-coordinator", roles=[Role.COORDINATOR])
    return coordinator


def import_first_images(
    *, data: Path, n_images: int, scratch: Path, name: str, coordinator: Any
) -> Any:
    """A malignant-vs-benign study of the first ``n_images`` rows of ``data``'s manifest."""
    from readerstudy.studies.services import (
        ImportOptions,
        ImportSource,
        study_create,
        study_import,
        task_resolve,
    )

    manifest = scratch / f"{name.replace(' ', '-')}.csv"
    with (data / "HAM10000_metadata.csv").open(newline="") as source:
        reader = csv.DictReader(source)
        rows = list(reader)[:n_images]
        with manifest.open("w", newline="") as target:
            writer = csv.DictWriter(target, fieldnames=reader.fieldnames or [])
            writer.writeheader()
            writer.writerows(rows)
    study = study_create(
        name=name,
        task=task_resolve(name="malignant-vs-benign"),
        modality="dermoscopic",
        created_by=coordinator,
        require_biopsy_proven=False,
    )
    study_import(
        study=study,
        source=ImportSource(images=data / "images", manifest=manifest),
        options=ImportOptions(),
        created_by=coordinator,
    )
    return study
