"""Image sets and manifests for the ingest tests, and what an import left in storage."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings


def stored_files() -> set[str]:
    """Every file under MEDIA_ROOT (stored case images), relative to it."""
    root = Path(settings.MEDIA_ROOT)
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def staged_files() -> set[str]:
    root = Path(settings.UPLOAD_ROOT) / "imports"
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def ham_subset(
    source: Path, target: Path, image_ids: Sequence[str] | None = None, *, count: int = 0
) -> tuple[Path, Path]:
    """Copy some HAM10000 sample images and their metadata rows into ``target``."""
    header, rows = read_csv(source / "HAM10000_metadata.csv")
    if image_ids is not None:
        rows = [r for r in rows if r["image_id"] in image_ids]
    elif count:
        rows = rows[:count]
    images = target / "images"
    images.mkdir(parents=True, exist_ok=True)
    for row in rows:
        shutil.copy(source / "images" / f"{row['image_id']}.jpg", images)
    manifest = write_csv(target / "metadata.csv", header, [[r[h] for h in header] for r in rows])
    return images, manifest


def ham_zip(source: Path, target: Path, count: int = 6, *, manifest: bool = True) -> Path:
    """A zip of the first ``count`` HAM10000 sample images, with their metadata inside."""
    import zipfile

    folder = target / "zip-source"
    images, metadata = ham_subset(source, folder, count=count)
    archive = target / "ham-set.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for image in sorted(images.iterdir()):
            bundle.write(image, f"images/{image.name}")
        if manifest:
            bundle.write(metadata, "HAM10000_metadata.csv")
    return archive
