"""Which manifest rows become cases: the task, the biopsy filter, a seeded sample, a limit.

Rows whose diagnosis lies outside the study's task, and (with the biopsy-proven filter)
rows without histopathology, are *excluded*: listed in the report with the reason, never
silently dropped. A non-proven row in a study that requires biopsy proof, without the
filter, is an *error* that stops the import.

A sample (``mel=30,nv=70``) and a limit draw at random with a recorded seed, after the
filters. Several images of one lesion (HAM10000 has up to six) would let a reader recognise
a lesion and count it twice, so a draw takes at most one image per lesion unless
``allow_same_lesion`` is set: the lesions are shuffled with the seed and one of each drawn
lesion's images is picked with the same generator. Without a sample or limit every row is
imported and the report counts lesions with more than one image.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from classifier.taxonomy import Task, Taxonomy, TaxonomyError
from readerstudy.studies.ingest.issues import ImportIssue, IssueCollector
from readerstudy.studies.ingest.manifests import Manifest, ManifestRow

OUTSIDE_TASK = "outside the task"
NOT_PROVEN = "not biopsy-proven"


@dataclass
class Selection:
    rows: list[ManifestRow] = field(default_factory=list)
    excluded: list[dict[str, object]] = field(default_factory=list)
    available: Counter[str] = field(default_factory=Counter)
    drawn: Counter[str] = field(default_factory=Counter)
    seed: int | None = None
    lesions_with_several_images: int = 0


def sample_parse(text: str, *, taxonomy: Taxonomy) -> dict[str, int]:
    """``"mel=30,nv=70"`` -> {"mel": 30, "nv": 70}; names may be codes or aliases.

    Raises ValueError with a message a coordinator can act on.
    """
    sample: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, count = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r}: write diagnosis=count, e.g. mel=30")
        try:
            code = taxonomy.normalise(name)
        except TaxonomyError as error:
            raise ValueError(str(error)) from None
        try:
            number = int(count.strip())
        except ValueError:
            raise ValueError(f"{part!r}: the count must be a whole number") from None
        if number < 1:
            raise ValueError(f"{part!r}: the count must be at least 1")
        if code in sample:
            raise ValueError(f"{code} appears twice in the sample")
        sample[code] = number
    if not sample:
        raise ValueError("the sample is empty")
    return sample


def rows_select(
    manifest: Manifest,
    *,
    task: Task,
    modality: str,
    require_biopsy_proven: bool,
    biopsy_proven_only: bool,
    issues: IssueCollector,
    sample: dict[str, int] | None = None,
    limit: int | None = None,
    seed: int | None = None,
    allow_same_lesion: bool = False,
) -> Selection:
    selection = Selection()
    candidates: list[ManifestRow] = []
    columns = manifest.columns
    for row in manifest.rows:
        if task.truth(row.diagnosis) is None:
            selection.excluded.append(
                _excluded(row, OUTSIDE_TASK, f"{row.diagnosis} is not part of the task {task.name}")
            )
            continue
        if not row.biopsy_proven:
            confirmation = row.confirmation or "no confirmation recorded"
            if biopsy_proven_only:
                selection.excluded.append(
                    _excluded(row, NOT_PROVEN, f"not biopsy-proven ({confirmation})")
                )
                continue
            if require_biopsy_proven:
                issues.add(
                    ImportIssue(
                        file=manifest.name,
                        row=row.row,
                        field=columns.biopsy_proven or columns.confirmation,
                        value=row.confirmation,
                        message=f"not biopsy-proven ({confirmation}) but the study requires "
                        "biopsy-proven cases; use the biopsy-proven-only filter to leave such "
                        "rows out",
                    )
                )
                continue
        if row.modality and _modality(row.modality) != modality:
            issues.add(
                ImportIssue(
                    file=manifest.name,
                    row=row.row,
                    field=columns.modality,
                    value=row.modality,
                    message=f"a {row.modality} image in a {modality} study",
                )
            )
            continue
        candidates.append(row)
    selection.available = Counter(row.diagnosis for row in candidates)

    if sample is not None or limit is not None:
        selection.seed = seed if seed is not None else secrets.randbelow(2**31)
        generator = random.Random(selection.seed)
        if sample is not None:
            candidates = _sample(
                candidates, sample, task, generator, allow_same_lesion, issues, manifest.name
            )
        if limit is not None:
            if limit < 1:
                issues.add(ImportIssue(field="limit", message="the limit must be at least 1"))
            else:
                candidates = _draw(candidates, limit, generator, allow_same_lesion)
    selection.rows = sorted(candidates, key=lambda r: r.row)
    selection.drawn = Counter(row.diagnosis for row in selection.rows)
    lesions = Counter(row.lesion_id for row in selection.rows if row.lesion_id)
    selection.lesions_with_several_images = sum(1 for n in lesions.values() if n > 1)
    return selection


def _sample(
    rows: list[ManifestRow],
    sample: dict[str, int],
    task: Task,
    generator: random.Random,
    allow_same_lesion: bool,
    issues: IssueCollector,
    manifest_name: str,
) -> list[ManifestRow]:
    by_diagnosis: dict[str, list[ManifestRow]] = defaultdict(list)
    for row in rows:
        by_diagnosis[row.diagnosis].append(row)
    drawn: list[ManifestRow] = []
    for code in sorted(sample):
        wanted = sample[code]
        if task.truth(code) is None:
            issues.add(
                ImportIssue(
                    field="sample",
                    value=code,
                    message=f"{code} is not part of the task {task.name}",
                )
            )
            continue
        pool = by_diagnosis.get(code, [])
        groups = _lesion_groups(pool, allow_same_lesion)
        if len(groups) < wanted:
            unit = "cases" if allow_same_lesion else "distinct lesions"
            issues.add(
                ImportIssue(
                    file=manifest_name,
                    field="sample",
                    value=f"{code}={wanted}",
                    message=f"asked for {wanted} {code} but only {len(groups)} {unit} are "
                    "available after the filters",
                )
            )
            continue
        drawn.extend(_draw(pool, wanted, generator, allow_same_lesion))
    return drawn


def _draw(
    rows: list[ManifestRow], count: int, generator: random.Random, allow_same_lesion: bool
) -> list[ManifestRow]:
    """``count`` rows at random, at most one per lesion unless allowed (seeded, stable)."""
    groups = _lesion_groups(rows, allow_same_lesion)
    generator.shuffle(groups)
    return [generator.choice(group) for group in groups[:count]]


def _lesion_groups(rows: list[ManifestRow], allow_same_lesion: bool) -> list[list[ManifestRow]]:
    groups: dict[str, list[ManifestRow]] = defaultdict(list)
    for row in rows:
        key = f"row:{row.row}" if allow_same_lesion or not row.lesion_id else row.lesion_id
        groups[key].append(row)
    # Sorted keys and rows: the same manifest and seed give the same draw on every machine.
    return [sorted(groups[key], key=lambda r: r.row) for key in sorted(groups)]


def _modality(recorded: str) -> str:
    """ISIC's image_type ("dermoscopic", "clinical: close-up") as a study modality."""
    return recorded.split(":", 1)[0].strip().lower()


def _excluded(row: ManifestRow, category: str, reason: str) -> dict[str, object]:
    return {
        "row": row.row,
        "source_id": row.source_id,
        "diagnosis": row.diagnosis,
        "category": category,
        "reason": reason,
    }
