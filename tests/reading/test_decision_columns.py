"""A decision's columns are defined once (reading.columns): the reading export, the analysts'
decisions CSV and the reading API give the same answer columns, from the same fields."""

from __future__ import annotations

import csv
import io

import pytest

from readerstudy.analysis.exports import DECISION_COLUMNS, decisions_csv_lines
from readerstudy.reading.api import DecisionSerializer
from readerstudy.reading.columns import (
    DECISION_ANSWER_COLUMNS,
    DECISION_EXPORT_COLUMNS,
    decision_answer_cells,
)
from readerstudy.reading.models import Decision
from readerstudy.reading.selectors import decision_iter
from tests.support.reading import enrol, next_case, submit, synthetic_study


def test_every_decision_export_ends_with_the_answer_columns() -> None:
    answer = list(DECISION_ANSWER_COLUMNS)
    assert list(DECISION_EXPORT_COLUMNS[-len(answer) :]) == answer
    # The analysts' CSV: the answer columns as one block after the case's columns, then only
    # the case's true class (appended later, so that older files keep their positions).
    start = DECISION_COLUMNS.index(answer[0])
    assert DECISION_COLUMNS[start : start + len(answer)] == answer
    assert DECISION_COLUMNS[start + len(answer) :] == ["true_class"]


def test_the_api_describes_a_decision_as_its_case_and_the_answer_columns() -> None:
    assert list(DecisionSerializer().fields) == ["case", *DECISION_ANSWER_COLUMNS]


@pytest.mark.django_db
def test_the_api_the_reading_export_and_the_analysts_csv_agree_on_a_stored_decision(
    reader_a, reader_a_client
) -> None:
    study = synthetic_study(2)
    enrol(study, reader_a, pseudonym="R01")
    served = next_case(reader_a_client, study)
    answer = submit(reader_a_client, study, served["case"]["token"], "biopsy", 80, active_ms=900)
    assert answer.status_code == 201
    api = answer.json()["decision"]
    assert list(api) == ["case", *DECISION_ANSWER_COLUMNS]

    stored = Decision.objects.get()
    (row,) = decision_iter(study)
    exported = dict(zip(DECISION_EXPORT_COLUMNS, row, strict=True))
    for column in DECISION_ANSWER_COLUMNS:
        assert exported[column] == getattr(stored, column), column

    lines = "".join(decisions_csv_lines(study))
    (analysts,) = csv.DictReader(io.StringIO(lines))
    cells = [str(cell) for cell in decision_answer_cells(exported)]
    assert [analysts[column] for column in DECISION_ANSWER_COLUMNS] == cells
    assert analysts["decision"] == api["decision"] == "biopsy"
    assert int(analysts["confidence"]) == api["confidence"] == 80
