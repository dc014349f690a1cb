"""Studies of real skin-lesion images from ../shared/data for the integration tests."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

from django.core.files.base import ContentFile
from PIL import Image

from readerstudy.studies.models import Case, Study
from tests.support.env import shared_data


def ham10000_rows(*, dx: tuple[str, ...] = ("mel", "nv"), histo_only: bool = True) -> list[dict]:
    folder = shared_data("ham10000")
    with (folder / "HAM10000_metadata.csv").open(newline="") as handle:
        rows = [
            r
            for r in csv.DictReader(handle)
            if r["dx"] in dx and (r["dx_type"] == "histo" or not histo_only)
        ]
    return sorted(rows, key=lambda r: r["image_id"])


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def add_real_cases(study: Study, rows: list[dict], *, folder: Path | None = None) -> list[Case]:
    """Cases for ``rows`` of the HAM10000 metadata, with re-encoded image files."""
    folder = folder or shared_data("ham10000")
    start = (study.cases.order_by("-position").values_list("position", flat=True).first() or -1) + 1
    cases = []
    for offset, row in enumerate(rows):
        with Image.open(folder / "images" / f"{row['image_id']}.jpg") as original:
            pixels = original.convert("RGB")
        data = _jpeg(pixels)
        thumb = pixels.copy()
        thumb.thumbnail((256, 256))
        stem = hashlib.sha256(f"{study.pk}-{row['image_id']}".encode()).hexdigest()[:24]
        cases.append(
            Case.objects.create(
                study=study,
                position=start + offset,
                image=ContentFile(data, name=f"cases/{study.pk}/{stem}-full.jpg"),
                display_image=ContentFile(data, name=f"cases/{study.pk}/{stem}-display.jpg"),
                thumbnail=ContentFile(_jpeg(thumb), name=f"cases/{study.pk}/{stem}-thumb.jpg"),
                width=pixels.width,
                height=pixels.height,
                pixel_sha256=hashlib.sha256(pixels.tobytes()).hexdigest(),
                diagnosis=row["dx"],
                diagnosis_label=row["dx"],
                truth=row["dx"] == "mel",
                biopsy_proven=row["dx_type"] == "histo",
                confirmation=row["dx_type"],
                source_id=row["image_id"],
                source_filename=f"{row['image_id']}.jpg",
                lesion_id=row["lesion_id"],
            )
        )
    return cases
