"""Studies with cases made from the real HAM10000 images in ../shared (read by path).

The one way the tests build cases from real images without going through an import (tests of
the ingest itself import image sets): each original is decoded and re-encoded with Pillow (no
metadata survives), stored under a generated name in three sizes, as the ingest service does,
and the truth fields come from the HAM10000 metadata.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from django.core.files.base import ContentFile
from django.db.models import Max
from PIL import Image

from classifier.taxonomy import load_taxonomy
from readerstudy.studies.models import Case, Study
from tests.factories import StudyFactory
from tests.support.env import shared_data

TASK = "malignant-vs-benign"
DX_LABELS = {
    "akiec": "Actinic keratosis / intraepithelial carcinoma",
    "bcc": "Basal cell carcinoma",
    "bkl": "Benign keratosis",
    "df": "Dermatofibroma",
    "mel": "Melanoma",
    "nv": "Melanocytic nevus",
    "vasc": "Vascular lesion",
}


@dataclass(frozen=True)
class Original:
    """One HAM10000 image and its metadata row."""

    path: Path
    image_id: str
    lesion_id: str
    dx: str
    dx_type: str
    age: int | None
    sex: str
    site: str
    diagnosis_label: str


def biopsy_proven_originals(limit: int | None = None) -> list[Original]:
    """Histopathology-confirmed images of the full-resolution sample, malignant and benign
    interleaved, in a fixed order."""
    return sample_originals(limit, dx_type="histo")


def original_from_row(row: dict, folder: Path) -> Original:
    """The image of a HAM10000 metadata ``row`` in ``folder`` (holding ``images/``)."""
    return Original(
        path=folder / "images" / f"{row['image_id']}.jpg",
        image_id=row["image_id"],
        lesion_id=row["lesion_id"],
        dx=row["dx"],
        dx_type=row["dx_type"],
        age=int(float(row["age"])) if row.get("age") else None,
        sex=row.get("sex") if row.get("sex") in ("male", "female") else "",
        site=row.get("localization") if row.get("localization") not in (None, "unknown") else "",
        diagnosis_label=DX_LABELS[row["dx"]],
    )


def sample_originals(limit: int | None = None, *, dx_type: str) -> list[Original]:
    """Images of the full-resolution sample whose diagnosis was confirmed by ``dx_type``
    (histo, follow_up, consensus, confocal), malignant and benign interleaved, in a fixed
    order."""
    folder = shared_data("ham10000-fullres-sample")
    with (folder / "HAM10000_metadata.csv").open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["dx_type"] == dx_type]
    rows.sort(key=lambda row: row["image_id"])
    task = load_taxonomy().task(TASK)
    malignant = [row for row in rows if task.truth(row["dx"]) == 1]
    benign = [row for row in rows if task.truth(row["dx"]) == 0]
    interleaved = []
    for index in range(max(len(malignant), len(benign))):
        interleaved += [group[index] for group in (malignant, benign) if index < len(group)]
    originals = [original_from_row(row, folder) for row in interleaved]
    return originals[:limit] if limit else originals


def _jpeg(image: Image.Image, *, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def case_files_from_original(data: bytes) -> dict[str, object]:
    """Decode, drop every piece of metadata, and store three re-encoded sizes under random
    names (what the ingest service does)."""
    with Image.open(io.BytesIO(data)) as opened:
        pixels = opened.convert("RGB")
    clean = Image.frombytes("RGB", pixels.size, pixels.tobytes())
    display = clean.copy()
    display.thumbnail((1600, 1600))
    thumbnail = clean.copy()
    thumbnail.thumbnail((256, 256))
    name = uuid.uuid4().hex
    return {
        "image": ContentFile(_jpeg(clean), name=f"cases/{name[:2]}/{name}-full.jpg"),
        "display_image": ContentFile(_jpeg(display), name=f"cases/{name[:2]}/{name}-display.jpg"),
        "thumbnail": ContentFile(
            _jpeg(thumbnail, quality=85), name=f"cases/{name[:2]}/{name}-thumb.jpg"
        ),
        "width": clean.width,
        "height": clean.height,
        "pixel_sha256": hashlib.sha256(clean.tobytes()).hexdigest(),
    }


def real_cases_add(
    study: Study, originals: Sequence[Original], *, original_bytes: Sequence[bytes] | None = None
) -> list[Case]:
    """Append cases to ``study`` (positions after the existing ones), truth from the metadata."""
    task = load_taxonomy().task(TASK)
    last = study.cases.aggregate(last=Max("position"))["last"]
    start = 0 if last is None else last + 1
    cases = []
    for offset, original in enumerate(originals):
        data = original_bytes[offset] if original_bytes else original.path.read_bytes()
        cases.append(
            Case.objects.create(
                study=study,
                position=start + offset,
                diagnosis=original.dx,
                diagnosis_label=original.diagnosis_label,
                truth=task.truth(original.dx) == 1,
                biopsy_proven=original.dx_type == "histo",
                confirmation=original.dx_type,
                source_id=original.image_id,
                source_filename=f"{original.image_id}.jpg",
                lesion_id=original.lesion_id,
                age=original.age,
                sex=original.sex,
                site=original.site,
                **case_files_from_original(data),
            )
        )
    return cases


def real_study(n_cases: int = 5, **study_fields: object) -> Study:
    """An open study of ``n_cases`` real, biopsy-proven HAM10000 cases."""
    study = StudyFactory(
        task=TASK,
        task_definition=load_taxonomy().task(TASK).to_dict(),
        **study_fields,
    )
    real_cases_add(study, biopsy_proven_originals(n_cases))
    return study


def with_canary(original: Original, canary: str) -> Original:
    """The same image whose source id, file name, lesion id and diagnosis label carry
    ``canary``."""
    return replace(
        original,
        image_id=f"{canary}-ID",
        lesion_id=f"{canary}-LESION",
        diagnosis_label=f"{original.diagnosis_label} {canary}-LABEL",
    )
