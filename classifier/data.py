"""Reading image manifests and splitting HAM10000 by lesion.

Two manifest formats:

- ``ham10000``: HAM10000's metadata CSV (``lesion_id, image_id, dx, dx_type, ...`` and, in
  this project's copy, lesion boxes ``top, bottom, left, right``); images ``<image_id>.jpg``.
  Biopsy-proven: ``dx_type`` is ``histo``.
- ``isic``: the ISIC Archive's legacy metadata (``isic_id, diagnosis,
  diagnosis_confirm_type, ...``); images ``<isic_id>.jpg``. Biopsy-proven:
  ``diagnosis_confirm_type`` is ``histopathology``.

Which confirmations count as biopsy-proven is ``classifier.taxonomy.is_biopsy_proven``, the
definition the study platform's manifest parser uses too.

Several HAM10000 images can show one lesion, so the train/val/test split assigns lesions, not
images (otherwise a test lesion could be learnt from its twin in training). The split is
stratified by diagnosis and by whether the lesion is biopsy-proven, with a fixed seed, and is
written to a CSV that ships next to the model.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from classifier.clinical import ClinicalInfo
from classifier.taxonomy import Taxonomy, TaxonomyError, is_biopsy_proven

FORMATS = ("ham10000", "isic")
SPLITS = ("train", "val", "test")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class ManifestError(ValueError):
    """A manifest or split file that cannot be read."""


@dataclass(frozen=True)
class Case:
    """One image with its diagnosis (a taxonomy code) and provenance."""

    image_id: str
    lesion_id: str
    diagnosis: str
    biopsy_proven: bool
    path: Path
    dx_type: str = ""
    box: tuple[float, float, float, float] | None = None  # left, top, right, bottom (pixels)
    clinical: ClinicalInfo = field(default_factory=ClinicalInfo)  # age, sex and body site


def read_manifest(
    manifest: str | Path,
    images: str | Path,
    format: str,
    taxonomy: Taxonomy,
    *,
    skip_unknown: bool = False,
) -> list[Case]:
    """The cases of a manifest CSV whose images are in ``images``.

    Unknown diagnoses raise ManifestError unless ``skip_unknown``.
    """
    if format not in FORMATS:
        raise ManifestError(f"unknown manifest format {format!r} (known: {', '.join(FORMATS)})")
    manifest, images = Path(manifest), Path(images)
    try:
        with open(manifest, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise ManifestError(f"{manifest}: cannot read: {error}") from None
    id_column, dx_column = ("image_id", "dx") if format == "ham10000" else ("isic_id", "diagnosis")
    if rows and (id_column not in rows[0] or dx_column not in rows[0]):
        raise ManifestError(
            f"{manifest}: a {format} manifest needs columns {id_column!r} and {dx_column!r}"
        )
    cases = []
    for number, row in enumerate(rows, start=2):
        try:
            diagnosis = taxonomy.normalise(row[dx_column])
        except TaxonomyError as error:
            if skip_unknown:
                continue
            raise ManifestError(f"{manifest}:{number}: {error}") from None
        image_id = row[id_column].strip()
        if format == "ham10000":
            dx_type = row.get("dx_type", "").strip()
            lesion_id = row.get("lesion_id", "").strip() or image_id
        else:
            dx_type = row.get("diagnosis_confirm_type", "").strip()
            lesion_id = image_id
        biopsy_proven = is_biopsy_proven(dx_type)
        if format == "ham10000":
            clinical = ClinicalInfo.of(row.get("age"), row.get("sex"), row.get("localization"))
        else:
            clinical = ClinicalInfo.of(
                row.get("age_approx"), row.get("sex"), row.get("anatom_site_general")
            )
        cases.append(
            Case(
                image_id=image_id,
                lesion_id=lesion_id,
                diagnosis=diagnosis,
                biopsy_proven=biopsy_proven,
                path=_image_path(images, image_id),
                dx_type=dx_type,
                box=_box(row),
                clinical=clinical,
            )
        )
    return cases


def read_ham10000(data_dir: str | Path, taxonomy: Taxonomy) -> list[Case]:
    """All cases of a HAM10000 directory (``HAM10000_metadata.csv`` + ``images/``)."""
    data_dir = Path(data_dir)
    return read_manifest(
        data_dir / "HAM10000_metadata.csv", data_dir / "images", "ham10000", taxonomy
    )


def _image_path(images: Path, image_id: str) -> Path:
    for suffix in IMAGE_SUFFIXES:
        candidate = images / f"{image_id}{suffix}"
        if candidate.exists():
            return candidate
    return images / f"{image_id}.jpg"


def _box(row: dict[str, str]) -> tuple[float, float, float, float] | None:
    try:
        left, top = float(row["left"]), float(row["top"])
        right, bottom = float(row["right"]), float(row["bottom"])
    except (KeyError, TypeError, ValueError):
        return None
    if right <= left or bottom <= top:
        return None
    return (left, top, right, bottom)


def split_lesions(
    cases: Iterable[Case],
    seed: int,
    fractions: Sequence[float] = (0.70, 0.15, 0.15),
) -> dict[str, str]:
    """lesion_id -> "train" | "val" | "test", stratified by (diagnosis, biopsy-proven).

    Within each stratum the lesions are shuffled with ``seed`` and cut by ``fractions``
    (rounded so each split's share holds per stratum).
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError("fractions must be three shares of 1 (train, val, test)")
    strata: dict[tuple[str, bool], set[str]] = defaultdict(set)
    for case in cases:
        strata[(case.diagnosis, case.biopsy_proven)].add(case.lesion_id)
    rng = random.Random(seed)
    assignment: dict[str, str] = {}
    for key in sorted(strata):
        lesions = sorted(strata[key] - assignment.keys())
        rng.shuffle(lesions)
        n_val = round(len(lesions) * fractions[1])
        n_test = round(len(lesions) * fractions[2])
        for index, lesion in enumerate(lesions):
            if index < n_test:
                assignment[lesion] = "test"
            elif index < n_test + n_val:
                assignment[lesion] = "val"
            else:
                assignment[lesion] = "train"
    return assignment


def write_split(path: str | Path, cases: Iterable[Case], assignment: dict[str, str]) -> None:
    """CSV ``lesion_id,image_id,dx,dx_type,split``, one row per image, sorted by image_id."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(cases, key=lambda c: c.image_id)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["lesion_id", "image_id", "dx", "dx_type", "split"])
        for case in rows:
            writer.writerow(
                [
                    case.lesion_id,
                    case.image_id,
                    case.diagnosis,
                    case.dx_type,
                    assignment[case.lesion_id],
                ]
            )


def read_split(path: str | Path) -> dict[str, str]:
    """image_id -> split from a split CSV (see write_split)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise ManifestError(f"{path}: cannot read split: {error}") from None
    split = {}
    for row in rows:
        if row.get("split") not in SPLITS or not row.get("image_id"):
            raise ManifestError(f"{path}: bad split row {row}")
        split[row["image_id"]] = row["split"]
    return split


def split_lesion_ids(path: str | Path, which: str) -> set[str]:
    """The lesion ids in one part ("train", "val" or "test") of a split CSV."""
    if which not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["lesion_id"] for row in csv.DictReader(handle) if row["split"] == which}


def load_image(path: str | Path) -> Image.Image:
    """An image file as RGB, fully decoded (so the file handle is closed)."""
    with Image.open(path) as image:
        return image.convert("RGB")
