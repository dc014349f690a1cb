"""Writes of the reading package, by job: ``serving`` (a reader's order, serving cases with
one-time tokens, going back), ``decisions`` (storing answers) and ``simulated`` (answers of
simulated readers). Callers import from here."""

from readerstudy.reading.services.decisions import (
    SubmitOutcome,
    decision_submit,
    decision_submit_and_serve_next,
)
from readerstudy.reading.services.serving import (
    READER_CASE_FIELDS,
    AnswerChangesNotAllowed,
    CaseServing,
    ServedCaseNotFound,
    case_serve,
    next_case_serve,
    previous_case_serve,
    reading_order_sync,
)
from readerstudy.reading.services.simulated import SimulatedAnswer, decision_record_simulated

__all__ = [
    "READER_CASE_FIELDS",
    "AnswerChangesNotAllowed",
    "CaseServing",
    "ServedCaseNotFound",
    "SimulatedAnswer",
    "SubmitOutcome",
    "case_serve",
    "decision_record_simulated",
    "decision_submit",
    "decision_submit_and_serve_next",
    "next_case_serve",
    "previous_case_serve",
    "reading_order_sync",
]
