"""The fully crossed MRMC design (modality x reader x case) of a ratings table, and the reader
panel an algorithm is compared with (Hillis 2007, section 5.3).

Errors name the file and the first missing reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from readerstudy.stats.formats import RatingsFormatError, RatingsTable, sorted_names


@dataclass(frozen=True)
class MrmcDesign:
    """A fully crossed design: ratings (modalities, readers, cases), names sorted."""

    truth: np.ndarray
    ratings: np.ndarray
    modalities: tuple[str, ...]
    readers: tuple[str, ...]
    cases: tuple[str, ...]


def algorithm_panel(table: RatingsTable, algorithm: str) -> tuple[str, ...]:
    """The readers an ``algorithm`` (a reader id of a one-modality table) is compared with,
    or an error naming the file and what is wrong (Hillis 2007, section 5.3)."""
    readers = sorted_names(table.reader)
    modalities = sorted_names(table.modality)
    if algorithm not in readers:
        raise RatingsFormatError(
            f"{table.source}: the algorithm {algorithm!r} is not a reader in the file "
            f"(readers: {', '.join(readers)})"
        )
    if len(modalities) != 1:
        raise RatingsFormatError(
            f"{table.source}: comparing an algorithm with readers needs a file with one modality; "
            f"it has "
            f"{len(modalities)} ({', '.join(modalities)})"
        )
    panel = tuple(r for r in readers if r != algorithm)
    if len(panel) < 2:
        raise RatingsFormatError(
            f"{table.source}: the algorithm needs at least two other readers; found {len(panel)}"
        )
    return panel


def mrmc_design(
    table: RatingsTable,
    *,
    readers: Iterable[str] | None = None,
    modalities: Iterable[str] | None = None,
) -> MrmcDesign:
    """The fully crossed (modality x reader x case) cube of a table, or an error naming the
    first missing reading; only the given readers/modalities when those are passed."""
    reader_names = sorted_names(table.reader) if readers is None else tuple(readers)
    modality_names = sorted_names(table.modality) if modalities is None else tuple(modalities)
    case_names = sorted_names(table.case)
    reader_index = {name: i for i, name in enumerate(reader_names)}
    modality_index = {name: i for i, name in enumerate(modality_names)}
    case_index = {name: i for i, name in enumerate(case_names)}
    cube = np.full((len(modality_names), len(reader_names), len(case_names)), np.nan)
    truth = np.zeros(len(case_names), dtype=np.int8)
    for reader, modality, case, value, rating in zip(
        table.reader, table.modality, table.case, table.truth, table.rating, strict=True
    ):
        truth[case_index[case]] = value
        if reader in reader_index and modality in modality_index:
            cube[modality_index[modality], reader_index[reader], case_index[case]] = rating
    holes = np.argwhere(np.isnan(cube))
    if len(holes):
        i, j, k = holes[0]
        raise RatingsFormatError(
            f"{table.source}: incomplete reader x case design: reader {reader_names[j]!r} has "
            f"no rating for case {case_names[k]!r} in modality {modality_names[i]!r} "
            f"({len(holes)} readings missing); MRMC analysis needs every reader to read "
            "every case in every modality"
        )
    return MrmcDesign(
        truth=truth,
        ratings=cube,
        modalities=modality_names,
        readers=reader_names,
        cases=case_names,
    )


def table_from_design(design: MrmcDesign, source: str = "<memory>") -> RatingsTable:
    """The long table of a fully crossed design (modality-major, then reader, then case)."""
    t, r, k = design.ratings.shape
    return RatingsTable(
        reader=tuple(design.readers[j] for _ in range(t) for j in range(r) for _ in range(k)),
        modality=tuple(design.modalities[i] for i in range(t) for _ in range(r * k)),
        case=tuple(design.cases[c] for _ in range(t * r) for c in range(k)),
        truth=np.tile(np.asarray(design.truth, dtype=np.int8), t * r),
        rating=design.ratings.reshape(-1).astype(np.float64),
        source=source,
    )
