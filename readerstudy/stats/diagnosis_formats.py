"""Diagnosis ratings in: a CSV ``reader,case,truth,answer`` with class labels as strings.

One row per reading; ``truth`` is the case's true class and ``answer`` the class the reader
picked (any column order, extra columns ignored, a header row first). A case keeps one truth
and a reader answers a case once. Errors name the file, the row (numbered as lines of the
file, the header being row 1) and the field, as ``readerstudy.stats.formats`` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from readerstudy.stats.formats import RatingsFormatError, csv_records, sorted_names

DIAGNOSIS_COLUMNS: tuple[str, ...] = ("reader", "case", "truth", "answer")


@dataclass(frozen=True)
class DiagnosisRatings:
    """Readings in long form: one entry per (reader, case); truth is per case."""

    reader: tuple[str, ...]
    case: tuple[str, ...]
    answer: tuple[str, ...]
    case_truth: dict[str, str]
    row: tuple[int, ...]  # the line of the file each reading came from
    source: str = "<memory>"

    def readers(self) -> tuple[str, ...]:
        """Reader names, numbers in numeric order, then alphabetically."""
        return sorted_names(self.reader)

    def cases(self) -> tuple[str, ...]:
        """Case ids in the same natural order."""
        return sorted_names(self.case_truth)

    def labels(self) -> tuple[str, ...]:
        """Every class label that occurs as a truth or an answer, in natural order."""
        return sorted_names([*self.case_truth.values(), *self.answer])

    def answers_by_reader(self) -> dict[str, dict[str, str]]:
        """Each reader's answer per case id, in one pass over the readings."""
        answered: dict[str, dict[str, str]] = {}
        for reader, case, answer in zip(self.reader, self.case, self.answer, strict=True):
            answered.setdefault(reader, {})[case] = answer
        return answered


def read_diagnosis_csv(path: str | Path) -> DiagnosisRatings:
    """Read ``reader,case,truth,answer`` rows; RatingsFormatError naming file, row and field."""
    source = str(path)
    if not Path(path).is_file():
        raise RatingsFormatError(f"{source}: no such file")
    readers: list[str] = []
    cases: list[str] = []
    answers: list[str] = []
    lines: list[int] = []
    case_truth: dict[str, tuple[str, int]] = {}
    seen: dict[tuple[str, str], int] = {}
    for row, where, values in csv_records(path, DIAGNOSIS_COLUMNS):
        for column in DIAGNOSIS_COLUMNS:
            if not values[column]:
                raise RatingsFormatError(f"{where}, field '{column}': empty")
        reader, case, truth = values["reader"], values["case"], values["truth"]
        known = case_truth.setdefault(case, (truth, row))
        if known[0] != truth:
            raise RatingsFormatError(
                f"{where}, field 'truth': case {case!r} has truth {truth!r} here but "
                f"{known[0]!r} at row {known[1]}"
            )
        first = seen.setdefault((reader, case), row)
        if first != row:
            raise RatingsFormatError(
                f"{where}: reader {reader!r} answers case {case!r} twice (first at row {first})"
            )
        readers.append(reader)
        cases.append(case)
        answers.append(values["answer"])
        lines.append(row)
    if not readers:
        raise RatingsFormatError(f"{source}: no readings found")
    return DiagnosisRatings(
        reader=tuple(readers),
        case=tuple(cases),
        answer=tuple(answers),
        case_truth={case: truth for case, (truth, _) in case_truth.items()},
        row=tuple(lines),
        source=source,
    )


def checked_classes(ratings: DiagnosisRatings, classes: Iterable[str] | None) -> tuple[str, ...]:
    """The class order: ``classes`` when given (every truth and answer must be one of them,
    else the first row that is not is named), otherwise the labels found, in natural order."""
    if classes is None:
        return ratings.labels()
    order = tuple(classes)
    if len(set(order)) != len(order):
        raise RatingsFormatError(f"the classes must be distinct, got {', '.join(order)}")
    allowed = set(order)
    for row, case, answer in zip(ratings.row, ratings.case, ratings.answer, strict=True):
        for field, label in (("truth", ratings.case_truth[case]), ("answer", answer)):
            if label not in allowed:
                raise RatingsFormatError(
                    f"{ratings.source}, row {row}, field '{field}': {label!r} is not "
                    f"one of the classes {', '.join(order)}"
                )
    return order
