"""The skin-lesion taxonomy shared by the CNN and the study platform.

Esteva et al. (Nature 2017) train the network on fine *training classes* and obtain the
probability of a coarser *inference class* u by summing its training classes:
P(u) = sum over v in C(u) of P(v). A study asks one binary question (a *task*) whose
positive and negative sides are sets of fine diagnoses; each diagnosis maps to one training
class. The task's probability of the positive side is the summed mass of the positive
training classes, renormalised over the classes the task covers:

    P(positive | task) = P(pos) / (P(pos) + P(neg))

so a case is ranked only by the classes the readers choose between (a melanoma-vs-nevus
study is not disturbed by mass the network puts on, say, vascular lesions). The rule for the
built-in tasks:

- ``melanoma-vs-nevus``: P(mel) / (P(mel) + P(nv))
- ``carcinoma-vs-keratosis``: (P(bcc) + P(akiec)) / (P(bcc) + P(akiec) + P(bkl))
  (``scc`` trains as ``akiec``)
- ``malignant-vs-benign``: P(akiec) + P(bcc) + P(mel) (all seven classes take part, so the
  denominator is 1)

The taxonomy is data (``taxonomy.json`` beside this module) with a version that every
checkpoint and every study records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

TAXONOMY_PATH = Path(__file__).with_name("taxonomy.json")

# The confirmations that make a case biopsy-proven: HAM10000's dx_type "histo", the ISIC
# Archive's diagnosis_confirm_type "histopathology", and the spellings a generic manifest uses.
BIOPSY_CONFIRMATIONS = frozenset({"histo", "histopathology", "histology", "biopsy"})


class TaxonomyError(ValueError):
    """A diagnosis, task or mapping file that the taxonomy cannot place."""


def is_biopsy_proven(confirmation: str) -> bool:
    """Whether a manifest's confirmation value (HAM10000 ``dx_type``, ISIC
    ``diagnosis_confirm_type``, a generic ``confirmation``) says histopathology, the ground
    truth Tschandl et al. (Sci Data 2018) call biopsy-proven. Case and surrounding spaces do
    not matter. The one definition for the classifier's data and the studies' manifests."""
    return confirmation.strip().lower() in BIOPSY_CONFIRMATIONS


@dataclass(frozen=True)
class Diagnosis:
    code: str
    label: str
    training_class: str
    malignant: bool
    lineage: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Task:
    """A binary question over fine diagnoses: positive (malignant for the task) vs negative."""

    name: str
    label: str
    positive: frozenset[str]
    negative: frozenset[str]

    @property
    def diagnoses(self) -> frozenset[str]:
        return self.positive | self.negative

    def truth(self, diagnosis: str) -> int | None:
        """1 for a positive diagnosis, 0 for a negative one, None when outside the task."""
        if diagnosis in self.positive:
            return 1
        if diagnosis in self.negative:
            return 0
        return None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "label": self.label,
            "positive": sorted(self.positive),
            "negative": sorted(self.negative),
        }


@dataclass(frozen=True)
class Taxonomy:
    version: str
    training_classes: tuple[str, ...]
    diagnoses: Mapping[str, Diagnosis]
    inference_classes: Mapping[str, tuple[str, ...]]
    tasks: Mapping[str, Task]

    def normalise(self, raw: str) -> str:
        """The fine diagnosis code for a manifest's label (a code or a known alias).

        Raises TaxonomyError for a label that is neither.
        """
        key = raw.strip().lower()
        if key in self.diagnoses:
            return key
        for diagnosis in self.diagnoses.values():
            if key in diagnosis.aliases:
                return diagnosis.code
        raise TaxonomyError(f"unknown diagnosis {raw!r}")

    def task(self, name: str) -> Task:
        try:
            return self.tasks[name]
        except KeyError:
            known = ", ".join(sorted(self.tasks))
            raise TaxonomyError(f"unknown task {name!r} (built-in tasks: {known})") from None

    def task_from_mapping(self, mapping: Mapping[str, object], *, source: str = "mapping") -> Task:
        """A custom task from a mapping: {"name", "label"?, "positive": [...], "negative": [...]}.

        Every listed diagnosis must be in the taxonomy (codes or aliases), the two sides must
        not overlap, and they must not share a training class (the CNN could not tell them
        apart).
        """
        for key in ("name", "positive", "negative"):
            if key not in mapping:
                raise TaxonomyError(f"{source}: missing field {key!r}")
        name = str(mapping["name"]).strip()
        if not name:
            raise TaxonomyError(f"{source}: field 'name' is empty")
        sides: dict[str, frozenset[str]] = {}
        for side in ("positive", "negative"):
            values = mapping[side]
            if not isinstance(values, list) or not values:
                raise TaxonomyError(f"{source}: field {side!r} must be a non-empty list")
            try:
                sides[side] = frozenset(self.normalise(str(v)) for v in values)
            except TaxonomyError as error:
                raise TaxonomyError(f"{source}: field {side!r}: {error}") from None
        overlap = sides["positive"] & sides["negative"]
        if overlap:
            raise TaxonomyError(f"{source}: {sorted(overlap)} on both sides of the task")
        shared = self._training_classes(sides["positive"]) & self._training_classes(
            sides["negative"]
        )
        if shared:
            raise TaxonomyError(
                f"{source}: positive and negative diagnoses share training class(es) "
                f"{sorted(shared)}; the CNN cannot separate them"
            )
        return Task(
            name=name,
            label=str(mapping.get("label") or name),
            positive=sides["positive"],
            negative=sides["negative"],
        )

    def task_from_file(self, path: str | Path) -> Task:
        """A custom task from a JSON mapping file (see task_from_mapping)."""
        path = Path(path)
        try:
            mapping = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise TaxonomyError(f"{path}: cannot read task mapping: {error}") from None
        if not isinstance(mapping, dict):
            raise TaxonomyError(f"{path}: a task mapping must be a JSON object")
        return self.task_from_mapping(mapping, source=str(path))

    def _training_classes(self, diagnoses: Iterable[str]) -> set[str]:
        return {self.diagnoses[d].training_class for d in diagnoses}

    def class_indices(self, diagnoses: Iterable[str]) -> list[int]:
        """Indices into training_classes of the classes these diagnoses train as."""
        wanted = self._training_classes(diagnoses)
        return [i for i, c in enumerate(self.training_classes) if c in wanted]

    def inference_probabilities(self, fine: np.ndarray) -> dict[str, np.ndarray]:
        """P(u) = sum over v in C(u) of P(v) for each inference class u (Esteva et al. 2017).

        ``fine`` holds training-class probabilities, shape (n, len(training_classes)).
        """
        fine = _as_probabilities(fine, len(self.training_classes))
        index = {c: i for i, c in enumerate(self.training_classes)}
        return {
            name: fine[:, [index[c] for c in members]].sum(axis=1)
            for name, members in self.inference_classes.items()
        }

    def task_probability(self, fine: np.ndarray, task: Task) -> np.ndarray:
        """P(positive | task) = P(pos) / (P(pos) + P(neg)); see the module docstring."""
        fine = _as_probabilities(fine, len(self.training_classes))
        positive = fine[:, self.class_indices(task.positive)].sum(axis=1)
        negative = fine[:, self.class_indices(task.negative)].sum(axis=1)
        total = positive + negative
        # A network that puts no mass at all on the task's classes gives no evidence either way.
        return np.divide(positive, total, out=np.full_like(positive, 0.5), where=total > 0)


def _as_probabilities(fine: np.ndarray | Sequence[Sequence[float]], width: int) -> np.ndarray:
    array = np.asarray(fine, dtype=np.float64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != width:
        raise TaxonomyError(f"expected probabilities of shape (n, {width}), got {array.shape}")
    return array


def _parse(raw: Mapping[str, object]) -> Taxonomy:
    training_classes = tuple(str(c) for c in raw["training_classes"])  # type: ignore[attr-defined]
    diagnoses: dict[str, Diagnosis] = {}
    for code, spec in raw["diagnoses"].items():  # type: ignore[attr-defined]
        if spec["training_class"] not in training_classes:
            raise TaxonomyError(f"diagnosis {code!r}: unknown training class")
        diagnoses[code] = Diagnosis(
            code=code,
            label=spec["label"],
            training_class=spec["training_class"],
            malignant=bool(spec["malignant"]),
            lineage=spec["lineage"],
            aliases=tuple(a.lower() for a in spec.get("aliases", ())),
        )
    inference_classes = {
        name: tuple(members)
        for name, members in raw["inference_classes"].items()  # type: ignore[attr-defined]
    }
    taxonomy = Taxonomy(
        version=str(raw["version"]),
        training_classes=training_classes,
        diagnoses=diagnoses,
        inference_classes=inference_classes,
        tasks={},
    )
    tasks = {
        name: taxonomy.task_from_mapping({"name": name, **spec}, source=f"task {name}")
        for name, spec in raw["tasks"].items()  # type: ignore[attr-defined]
    }
    return Taxonomy(
        version=taxonomy.version,
        training_classes=training_classes,
        diagnoses=diagnoses,
        inference_classes=inference_classes,
        tasks=tasks,
    )


@cache
def load_taxonomy(path: str | Path = TAXONOMY_PATH) -> Taxonomy:
    """The taxonomy in ``path`` (default: the versioned file shipped with the package)."""
    return _parse(json.loads(Path(path).read_text(encoding="utf-8")))
