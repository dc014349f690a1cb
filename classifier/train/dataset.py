"""The training data: each case's training label, the lesion-level split, a summary of the
data for the checkpoint, and the augmented images of one epoch."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from classifier.data import Case, read_split, split_lesions, write_split
from classifier.taxonomy import Taxonomy
from classifier.transforms import TrainTransform

BIOPSIED_NEVUS = "nv:biopsied"
DATA_LICENCE = "CC BY-NC 4.0 (Tschandl, Rosendahl & Kittler, Sci Data 2018, doi:10.7910/DVN/DBW86T)"


def training_label(case: Case, taxonomy: Taxonomy, biopsied_nevi_class: bool) -> str:
    """The network output a case trains as: its training class, or ``nv:biopsied`` for a
    biopsy-proven nevus when that output exists."""
    training_class = taxonomy.diagnoses[case.diagnosis].training_class
    if biopsied_nevi_class and training_class == "nv" and case.biopsy_proven:
        return BIOPSIED_NEVUS
    return training_class


def data_summary(cases: Sequence[Case], split: dict[str, str], data_dir: Path) -> dict[str, Any]:
    """What a checkpoint records of its training data: images, lesions and diagnoses per part."""
    summary: dict[str, Any] = {
        "dataset": "HAM10000 (200x150 downscaled copy)",
        "path": str(data_dir),
        "licence": DATA_LICENCE,
        "n_images": len(cases),
        "n_lesions": len({c.lesion_id for c in cases}),
    }
    for part in ("train", "val", "test"):
        chosen = [c for c in cases if split[c.image_id] == part]
        summary[part] = {
            "images": len(chosen),
            "lesions": len({c.lesion_id for c in chosen}),
            "diagnoses": dict(sorted(Counter(c.diagnosis for c in chosen).items())),
            "biopsy_proven": dict(
                sorted(Counter(c.diagnosis for c in chosen if c.biopsy_proven).items())
            ),
        }
    return summary


def make_or_read_split(cases: Sequence[Case], path: Path, seed: int) -> dict[str, str]:
    """image_id -> split, from ``path`` when it exists (it must cover every case), else a new
    lesion-level split written to ``path``."""
    if path.exists():
        split = read_split(path)
        missing = [c.image_id for c in cases if c.image_id not in split]
        if missing:
            raise SystemExit(
                f"{path}: split has no entry for {len(missing)} images, e.g. {missing[:3]}"
            )
        return split
    by_lesion = split_lesions(cases, seed)
    write_split(path, cases, by_lesion)
    return {c.image_id: by_lesion[c.lesion_id] for c in cases}


class EpochSamples(torch.utils.data.Dataset[tuple[torch.Tensor, int]]):
    """The augmented images of one epoch, in its sampled order. Each draw seeds ``random``
    from (seed, epoch, position), so the augmentations are the same whichever process makes
    them and however many loader workers there are."""

    def __init__(
        self,
        images: Sequence[Any],
        cases: Sequence[Case],
        transform: TrainTransform,
        order: torch.Tensor,
        seed: int,
    ) -> None:
        self.images, self.cases, self.transform = images, cases, transform
        self.order = order.tolist()
        self.seed = seed

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, position: int) -> tuple[torch.Tensor, int]:
        index = self.order[position]
        random.seed(self.seed * 1_000_003 + position)
        return self.transform(self.images[index], self.cases[index].box), index
