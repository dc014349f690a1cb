"""Scores of an algorithm that cannot run here (a commercial device, a model behind someone
else's door), imported from a CSV file: Haenssle et al. (2018) compared 58 dermatologists with
a market-approved device whose outputs they only had as numbers.

The file names each case by the id in the study's manifest (``source_id``) and gives either
``probability`` (P(positive) for the study's task) or one column per training class of the
taxonomy (the task probability then comes from the taxonomy sums, as for a CNN that ran here).
Every case must be scored exactly once. The import is all-or-nothing: any error (an unknown,
duplicate or missing id, a value that is not a probability) is reported with its row and
nothing is stored. The algorithm becomes a model version of kind "imported", identified by
the sha256 of the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from classifier.taxonomy import load_taxonomy
from readerstudy.scoring.models import CnnScore, ModelVersion
from readerstudy.scoring.services import cnn_classes_fill
from readerstudy.studies.models import Case, Study

ID_COLUMN = "source_id"
PROBABILITY_COLUMN = "probability"
MAX_LISTED = 50


class ScoreImportError(ValueError):
    """A score file that was refused; ``problems`` lists each one with its row."""

    def __init__(self, filename: str, problems: Sequence[str]) -> None:
        listed = list(problems[:MAX_LISTED])
        if len(problems) > MAX_LISTED:
            listed.append(f"... and {len(problems) - MAX_LISTED} more")
        super().__init__(
            f"{filename}: nothing was imported:\n" + "\n".join(f"  {p}" for p in listed)
        )
        self.filename = filename
        self.problems = list(problems)


def _columns(header: list[str], training_classes: Sequence[str]) -> tuple[list[str], list[str]]:
    """The score columns of the header, and the problems with it."""
    problems = []
    if ID_COLUMN not in header:
        problems.append(f"row 1: no {ID_COLUMN} column (the case ids of the study's manifest)")
    scores = [c for c in header if c != ID_COLUMN]
    unknown = [c for c in scores if c != PROBABILITY_COLUMN and c not in training_classes]
    for column in unknown:
        problems.append(
            f"row 1: column {column!r} is neither {PROBABILITY_COLUMN} nor a training class "
            f"of the taxonomy ({', '.join(training_classes)})"
        )
    if PROBABILITY_COLUMN in scores and len(scores) > 1 and not unknown:
        problems.append(
            f"row 1: give either {PROBABILITY_COLUMN} or one column per class, not both"
        )
    if not scores:
        problems.append(f"row 1: no score column ({PROBABILITY_COLUMN}, or one per class)")
    if len(set(header)) != len(header):
        problems.append("row 1: a column appears twice")
    return scores, problems


def _probability(raw: str, row: int, column: str, problems: list[str]) -> float:
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"row {row}: {column}: {raw!r} is not a number")
        return math.nan
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        problems.append(f"row {row}: {column}: {raw} is not a probability between 0 and 1")
    return value


def parse_scores(
    text: str, *, filename: str, study: Study
) -> tuple[list[str], dict[int, dict[str, float]]]:
    """The score columns and case id -> {column: value}; raises ScoreImportError with every
    problem of the file, each with its row (the header is row 1)."""
    taxonomy = load_taxonomy()
    reader = csv.reader(io.StringIO(text))
    header = [cell.strip() for cell in next(reader, [])]
    columns, problems = _columns(header, taxonomy.training_classes)
    if problems:
        raise ScoreImportError(filename, problems)
    cases = dict(Case.objects.filter(study=study).values_list("source_id", "pk"))
    cases.pop("", None)
    seen: dict[str, int] = {}
    scores: dict[int, dict[str, float]] = {}
    for row, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            problems.append(f"row {row}: {len(cells)} cells for {len(header)} columns")
            continue
        record = dict(zip(header, (cell.strip() for cell in cells), strict=True))
        source_id = record[ID_COLUMN]
        if source_id in seen:
            problems.append(
                f"row {row}: {ID_COLUMN} {source_id!r} is also on row {seen[source_id]}"
            )
            continue
        seen[source_id] = row
        if source_id not in cases:
            problems.append(
                f"row {row}: {ID_COLUMN} {source_id!r} is not a case of study {study.pk}"
            )
            continue
        scores[cases[source_id]] = {
            column: _probability(record[column], row, column, problems) for column in columns
        }
    missing = sorted(set(cases) - set(seen))
    for source_id in missing:
        problems.append(f"no row: {ID_COLUMN} {source_id!r} of the study has no score")
    if problems:
        raise ScoreImportError(filename, problems)
    return columns, scores


def _task_probabilities(
    study: Study, columns: list[str], scores: dict[int, dict[str, float]]
) -> dict[int, float]:
    if columns == [PROBABILITY_COLUMN]:
        return {pk: values[PROBABILITY_COLUMN] for pk, values in scores.items()}
    taxonomy = load_taxonomy()
    task = taxonomy.task_from_mapping(study.task_definition, source=f"study {study.pk}")
    ids = list(scores)
    fine = np.asarray([[scores[pk].get(c, 0.0) for c in taxonomy.training_classes] for pk in ids])
    return dict(zip(ids, map(float, taxonomy.task_probability(fine, task)), strict=True))


@transaction.atomic
def scores_import(
    *,
    study: Study,
    content: bytes,
    filename: str,
    name: str,
    created_by: User | None = None,
) -> ModelVersion:
    """Import a score file for ``study`` (all or nothing); returns the imported algorithm's
    model version. Raises ScoreImportError listing every problem with its row."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ScoreImportError(filename, [f"not UTF-8 text ({error.reason})"]) from None
    if not name.strip():
        raise ScoreImportError(filename, ["name: the algorithm needs a name"])
    columns, scores = parse_scores(text, filename=filename, study=study)
    sha256 = hashlib.sha256(content).hexdigest()
    model_version = ModelVersion.objects.filter(sha256=sha256).first()
    if model_version is not None:
        if model_version.kind != ModelVersion.Kind.IMPORTED:
            raise ScoreImportError(filename, [f"this file is the model {model_version}"])
        if CnnScore.objects.filter(model_version=model_version, case__study=study).exists():
            raise ScoreImportError(
                filename, [f"already imported for this study as {model_version}"]
            )
    else:
        storage_name = f"models/{sha256}.csv"
        if not default_storage.exists(storage_name):
            default_storage.save(storage_name, ContentFile(content))
        per_class = columns != [PROBABILITY_COLUMN]
        model_version = ModelVersion.objects.create(
            name=name.strip()[:128],
            kind=ModelVersion.Kind.IMPORTED,
            arch="imported",
            checkpoint=storage_name,
            sha256=sha256,
            file_sha256=sha256,
            description={"filename": filename, "columns": columns, "study": study.pk},
            taxonomy_mapping={c: c for c in columns} if per_class else {},
            taxonomy_version=load_taxonomy().version,
            input_size=[],
            class_names=columns if per_class else [],
            created_by=created_by,
        )
    probabilities = _task_probabilities(study, columns, scores)
    imported = [
        CnnScore(
            case_id=pk,
            model_version=model_version,
            probability=probabilities[pk],
            fine_probabilities={} if columns == [PROBABILITY_COLUMN] else values,
            embedding=None,
            device="imported",
            worker_host="",
            duration_ms=0.0,
        )
        for pk, values in scores.items()
    ]
    # Per-class columns give the CNN's class answer in a diagnosis study; P(positive) alone
    # gives none.
    cnn_classes_fill(imported)
    CnnScore.objects.bulk_create(imported)
    return model_version


def scores_import_upload(
    *, study: Study, upload: UploadedFile, name: str, created_by: User | None
) -> ModelVersion:
    """``scores_import`` of an uploaded file (the study page and the API)."""
    return scores_import(
        study=study,
        content=upload.read(),
        filename=upload.name or "scores.csv",
        name=name,
        created_by=created_by,
    )


def scores_import_file(
    *, study: Study, path: Path, name: str, created_by: User | None = None
) -> ModelVersion:
    """``scores_import`` of a file on disk (the import_scores command)."""
    return scores_import(
        study=study, content=path.read_bytes(), filename=path.name, name=name, created_by=created_by
    )
