"""Reader-study ratings in and out: the long CSV and iMRMC input files (the MRMC cube built
from them is ``readerstudy.stats.design``).

Long CSV: a header ``reader,modality,case,truth,rating`` and one row per reading (truth 1 =
positive; a higher rating means more likely positive). With integer case ids this is also the
Iowa OR-DBM MRMC / RJafroc "MRMC" ``.csv`` layout.

iMRMC (Gallas et al., FDA iMRMC input format): free description lines, then ``N0:``,
``N1:``, ``NR:``, ``NM:`` (negatives, positives, readers, modalities), a line ``BEGIN DATA:``
and rows ``readerID,caseID,modalityID,score``; a row with readerID -1 gives a case's truth
(0 or 1) in its score column. RJafroc reads these files with
``DfReadDataFile(path, format = "iMRMC")`` (extension ``.imrmc``), which needs integer reader
and case ids; ``write_imrmc`` therefore numbers readers and cases 1, 2, ... when their names
are not integers and records the names in description lines (``reader 1 = "dr_a"``) that
``read_imrmc`` restores, and that iMRMC and RJafroc ignore. It is the RJafroc-readable export:
RJafroc's native JAFROC format is an Excel workbook.

Errors name the file, the row (numbered as lines of the file, the header being row 1) and
the field.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LONG_COLUMNS: tuple[str, ...] = ("reader", "modality", "case", "truth", "rating")
IMRMC_TRUTH_READER = "-1"


class RatingsFormatError(ValueError):
    """Input that does not describe reader-study ratings; the message says where."""


@dataclass(frozen=True)
class RatingsTable:
    """Readings in long form: one entry per (reader, modality, case)."""

    reader: tuple[str, ...]
    modality: tuple[str, ...]
    case: tuple[str, ...]
    truth: np.ndarray  # int8, 0/1
    rating: np.ndarray  # float64
    source: str = "<memory>"


def _natural_key(name: str) -> tuple[int, float, str]:
    try:
        return (0, float(name), name)
    except ValueError:
        return (1, 0.0, name)


def sorted_names(names: Iterable[str]) -> tuple[str, ...]:
    """Names in numeric order when they are numbers ("2" before "10"), then alphabetically."""
    return tuple(sorted(set(names), key=_natural_key))


def _parse_truth(value: str, where: str) -> int:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if number not in (0.0, 1.0):
        raise RatingsFormatError(f"{where}, field 'truth': {value!r} is not 0 or 1")
    return int(number)


def _parse_rating(value: str, where: str, field: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise RatingsFormatError(f"{where}, field '{field}': {value!r} is not a number") from None
    if not math.isfinite(number):
        raise RatingsFormatError(f"{where}, field '{field}': {value!r} is not a finite number")
    return number


class _TableBuilder:
    """Collects rows, checking that a case keeps one truth and a reading is not repeated."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.reader: list[str] = []
        self.modality: list[str] = []
        self.case: list[str] = []
        self.truth: list[int] = []
        self.rating: list[float] = []
        self._case_truth: dict[str, tuple[int, int]] = {}
        self._seen: dict[tuple[str, str, str], int] = {}

    def set_truth(self, case: str, truth: int, row: int) -> None:
        known = self._case_truth.get(case)
        if known is not None and known[0] != truth:
            raise RatingsFormatError(
                f"{self.source}, row {row}, field 'truth': case {case!r} has truth {truth} "
                f"here but {known[0]} at row {known[1]}"
            )
        if known is None:
            self._case_truth[case] = (truth, row)

    def add(self, reader: str, modality: str, case: str, rating: float, row: int) -> None:
        key = (reader, modality, case)
        if key in self._seen:
            raise RatingsFormatError(
                f"{self.source}, row {row}: reader {reader!r}, modality {modality!r}, case "
                f"{case!r} is rated twice (first at row {self._seen[key]})"
            )
        self._seen[key] = row
        self.reader.append(reader)
        self.modality.append(modality)
        self.case.append(case)
        self.rating.append(rating)

    def build(self) -> RatingsTable:
        if not self.rating:
            raise RatingsFormatError(f"{self.source}: no ratings found")
        missing = sorted({c for c in self.case if c not in self._case_truth}, key=_natural_key)
        if missing:
            raise RatingsFormatError(f"{self.source}: no truth for case {missing[0]!r}")
        truth = np.array([self._case_truth[c][0] for c in self.case], dtype=np.int8)
        return RatingsTable(
            reader=tuple(self.reader),
            modality=tuple(self.modality),
            case=tuple(self.case),
            truth=truth,
            rating=np.array(self.rating, dtype=np.float64),
            source=self.source,
        )


def csv_records(
    path: str | Path, columns: tuple[str, ...]
) -> Iterator[tuple[int, str, dict[str, str]]]:
    """The rows of a CSV file that has ``columns`` (in any order, header case ignored, extra
    columns ignored, blank rows skipped): (row number, "FILE, row N", the stripped values).

    The file's shape is checked here, for every ratings format read from CSV: a missing
    column or a short row is refused naming the file and the row (the header being row 1).
    """
    source = str(path)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = csv.reader(handle)
        header = next(rows, None)
        if header is None:
            raise RatingsFormatError(f"{source}: the file is empty")
        names = [name.strip().lower() for name in header]
        missing = [column for column in columns if column not in names]
        if missing:
            raise RatingsFormatError(
                f"{source}, row 1: missing column {missing[0]!r} "
                f"(expected {', '.join(columns)}; header has {', '.join(header)})"
            )
        index = {column: names.index(column) for column in columns}
        for row_number, fields in enumerate(rows, start=2):
            if not fields or all(not field.strip() for field in fields):
                continue
            where = f"{source}, row {row_number}"
            if len(fields) < len(names):
                raise RatingsFormatError(
                    f"{where}: {len(fields)} fields but the header has {len(names)}"
                )
            yield row_number, where, {column: fields[i].strip() for column, i in index.items()}


def read_long_csv(path: str | Path) -> RatingsTable:
    """Read a long CSV ``reader,modality,case,truth,rating`` (any column order, extra columns
    ignored), as the Iowa OR-DBM MRMC / RJafroc "MRMC" CSV input (Hillis et al. 2008)."""
    source = str(path)
    builder = _TableBuilder(source)
    for row_number, where, values in csv_records(path, LONG_COLUMNS):
        for column in ("reader", "modality", "case"):
            if not values[column]:
                raise RatingsFormatError(f"{where}, field '{column}': empty")
        truth = _parse_truth(values["truth"], where)
        rating = _parse_rating(values["rating"], where, "rating")
        builder.set_truth(values["case"], truth, row_number)
        builder.add(values["reader"], values["modality"], values["case"], rating, row_number)
    return builder.build()


def read_imrmc(path: str | Path) -> RatingsTable:
    """Read an iMRMC input file (Gallas 2006; FDA iMRMC), restoring names ``write_imrmc``
    recorded."""
    source = str(path)
    builder = _TableBuilder(source)
    declared: dict[str, int] = {}
    renamed: dict[str, dict[str, str]] = {"reader": {}, "case": {}}
    with open(path, encoding="utf-8-sig") as handle:
        lines = handle.read().splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "BEGIN DATA:")
    except StopIteration:
        raise RatingsFormatError(f"{source}: no 'BEGIN DATA:' line (not an iMRMC file)") from None
    for number, line in enumerate(lines[:start], start=1):
        text = line.strip()
        key, _, value = text.partition(":")
        if key in ("N0", "N1", "NR", "NM"):
            try:
                declared[key] = int(value.strip())
            except ValueError:
                raise RatingsFormatError(
                    f"{source}, row {number}, field '{key}': {value.strip()!r} is not an integer"
                ) from None
        kind, _, rest = text.partition(" ")
        if kind in renamed and " = " in rest:
            number_text, _, name = rest.partition(" = ")
            with contextlib.suppress(json.JSONDecodeError):
                renamed[kind][number_text.strip()] = str(json.loads(name))
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split(",")]
        where = f"{source}, row {number}"
        if len(fields) != 4:
            raise RatingsFormatError(
                f"{where}: expected readerID,caseID,modalityID,score, got {len(fields)} fields"
            )
        reader, case, modality, score = fields
        case = renamed["case"].get(case, case)
        if reader in (IMRMC_TRUTH_READER, "truth"):
            builder.set_truth(case, _parse_truth(score, where), number)
            continue
        reader = renamed["reader"].get(reader, reader)
        builder.add(reader, modality, case, _parse_rating(score, where, "score"), number)
    table = builder.build()
    counts = {
        "N0": len({c for c, t in zip(table.case, table.truth, strict=True) if t == 0}),
        "N1": len({c for c, t in zip(table.case, table.truth, strict=True) if t == 1}),
        "NR": len(set(table.reader)),
        "NM": len(set(table.modality)),
    }
    for key, declared_count in declared.items():
        if counts[key] != declared_count:
            raise RatingsFormatError(
                f"{source}: header says {key}: {declared_count} but the data have {counts[key]}"
            )
    return table


def read_ratings(path: str | Path) -> RatingsTable:
    """Read a long CSV or an iMRMC file, telling them apart by iMRMC's 'BEGIN DATA:' line."""
    with open(path, encoding="utf-8-sig") as handle:
        is_imrmc = any(line.strip() == "BEGIN DATA:" for line in handle)
    return read_imrmc(path) if is_imrmc else read_long_csv(path)


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def write_long_csv(
    table: RatingsTable,
    path: str | Path,
    *,
    case_columns: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Write the long CSV ``reader,modality,case,truth,rating`` that ``read_long_csv`` reads.

    ``case_columns`` adds columns that describe each case (column name -> case -> value),
    after the five; readers of the format ignore extra columns."""
    extra = dict(case_columns or {})
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow((*LONG_COLUMNS, *extra))
        writer.writerows(
            (
                reader,
                modality,
                case,
                int(truth),
                _format_number(rating),
                *(values.get(case, "") for values in extra.values()),
            )
            for reader, modality, case, truth, rating in zip(
                table.reader, table.modality, table.case, table.truth, table.rating, strict=True
            )
        )


def _integer_ids(names: tuple[str, ...]) -> dict[str, str]:
    if all(name.isdigit() and name == str(int(name)) and int(name) >= 0 for name in names):
        return {name: name for name in names}
    return {name: str(i) for i, name in enumerate(names, start=1)}


def write_imrmc(
    table: RatingsTable, path: str | Path, description: str = "readerstudy ratings"
) -> None:
    """Write an iMRMC input file (FDA iMRMC; RJafroc ``DfReadDataFile(format = "iMRMC")``).

    Readers and cases get integer ids when their names are not integers, with the names kept
    in description lines; modality names are written as they are.
    """
    for modality in set(table.modality):
        if "," in modality or not modality.strip() or modality != modality.strip():
            raise RatingsFormatError(f"modality {modality!r} cannot be an iMRMC modality id")
    readers = sorted_names(table.reader)
    cases = sorted_names(table.case)
    reader_ids = _integer_ids(readers)
    case_ids = _integer_ids(cases)
    case_truth = dict(zip(table.case, table.truth, strict=True))
    lines = [line for line in description.splitlines() if line.strip()] or ["readerstudy"]
    lines += [f"reader {reader_ids[n]} = {json.dumps(n)}" for n in readers if reader_ids[n] != n]
    lines += [f"case {case_ids[n]} = {json.dumps(n)}" for n in cases if case_ids[n] != n]
    lines += [
        f"N0: {sum(1 for c in cases if case_truth[c] == 0)}",
        f"N1: {sum(1 for c in cases if case_truth[c] == 1)}",
        f"NR: {len(readers)}",
        f"NM: {len(set(table.modality))}",
        "",
        "BEGIN DATA:",
    ]
    lines += [f"{IMRMC_TRUTH_READER},{case_ids[c]},0,{int(case_truth[c])}" for c in cases]
    lines += [
        f"{reader_ids[reader]},{case_ids[case]},{modality},{_format_number(rating)}"
        for reader, modality, case, rating in zip(
            table.reader, table.modality, table.case, table.rating, strict=True
        )
    ]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
