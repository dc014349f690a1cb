"""What a decision is, as every export and the API give it: one definition of its columns.

``decision_iter`` streams DECISION_EXPORT_COLUMNS; the analysts' decisions CSV ends with
DECISION_ANSWER_COLUMNS (after the reader, the case, its truth and the CNN's score); the
reading API returns a decision as its case plus DECISION_ANSWER_COLUMNS. Tests in
tests/reading/test_decision_columns.py fail when one of them drifts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from readerstudy.studies.design import ANSWER_FIELDS

# A reader's answer to a case: what they said, how sure, which revision, and its timing.
# The answer fields come from the study design (ANSWER_FIELDS): a field the design does not
# ask is blank. The diagnosis fields come last, after the columns exports had before
# diagnosis questions existed, so scripts that read the older files by position still work.
_MANAGEMENT_FIELDS = ("decision", "confidence")
DECISION_ANSWER_COLUMNS: tuple[str, ...] = (
    *_MANAGEMENT_FIELDS,
    "revision",
    "served_at",
    "submitted_at",
    "active_ms",
    *(name for name in ANSWER_FIELDS if name not in _MANAGEMENT_FIELDS),
    # unaided, or aided (with the CNN's output shown) in AI-assisted studies.
    "phase",
)

# Every revision as exported: column -> the Decision field it reads.
DECISION_EXPORT_FIELDS: dict[str, str] = {
    "decision_id": "pk",
    "enrolment_id": "enrolment_id",
    "pseudonym": "enrolment__pseudonym",
    "simulated": "enrolment__simulated",
    "case_id": "case_id",
    "case_public_id": "case__public_id",
    **{column: column for column in DECISION_ANSWER_COLUMNS},
}
DECISION_EXPORT_COLUMNS: tuple[str, ...] = tuple(DECISION_EXPORT_FIELDS)


def decision_answer_cells(decision: Mapping[str, object]) -> list[object]:
    """The answer columns of one exported decision as CSV cells: times in ISO 8601, a missing
    value blank."""
    return [_cell(decision[column]) for column in DECISION_ANSWER_COLUMNS]


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value
