"""Simulated readers' answers (the demo, power checks), stored in the same Decision table
and always marked as simulated."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from readerstudy.reading.models import Decision, ServedCase
from readerstudy.studies.models import Case, Enrolment


@dataclass(frozen=True)
class SimulatedAnswer:
    case_id: int
    biopsy: bool
    confidence: int
    active_ms: int | None = None


@transaction.atomic
def decision_record_simulated(
    *, enrolment: Enrolment, answers: Iterable[SimulatedAnswer], at: datetime | None = None
) -> int:
    """Store a simulated reader's answers (demo, power checks) in the same Decision table.

    Only for enrolments marked ``simulated``; each answer becomes revision 1 with its own
    serving row. Returns the number of decisions stored.
    """
    if not enrolment.simulated:
        raise ValueError("decisions can be simulated only for a simulated enrolment")
    answers = list(answers)
    low, high = enrolment.study.confidence_range
    study_case_ids = set(
        Case.objects.filter(study_id=enrolment.study_id).values_list("pk", flat=True)
    )
    for answer in answers:
        if answer.case_id not in study_case_ids:
            raise ValueError(f"case {answer.case_id} is not in study {enrolment.study_id}")
        if not low <= answer.confidence <= high:
            raise ValueError(f"confidence {answer.confidence} is outside {low}-{high}")
    at = at or timezone.now()
    served = ServedCase.objects.bulk_create(
        [
            ServedCase(
                enrolment=enrolment,
                case_id=answer.case_id,
                token=secrets.token_urlsafe(32),
                served_at=at,
            )
            for answer in answers
        ]
    )
    Decision.objects.bulk_create(
        [
            Decision(
                enrolment=enrolment,
                case_id=answer.case_id,
                served=serving,
                decision=Decision.Choice.BIOPSY if answer.biopsy else Decision.Choice.REASSURE,
                confidence=answer.confidence,
                revision=1,
                served_at=at,
                submitted_at=at,
                active_ms=answer.active_ms,
            )
            for answer, serving in zip(answers, served, strict=True)
        ]
    )
    return len(answers)
