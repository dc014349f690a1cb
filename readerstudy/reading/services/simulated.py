"""Simulated readers' answers (the demo, power checks), stored in the same Decision table
and always marked as simulated."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from readerstudy.reading.models import Decision, Phase, ServedCase
from readerstudy.studies.design import DesignAnswerError, study_design
from readerstudy.studies.models import Case, Enrolment


@dataclass(frozen=True)
class SimulatedAnswer:
    """A simulated answer to the questions of the study's design: the management decision
    (``biopsy`` and its ``confidence``), the diagnosis (``diagnosis_class``, with its
    confidence where the study asks one), or both."""

    case_id: int
    biopsy: bool | None = None
    confidence: int | None = None
    active_ms: int | None = None
    diagnosis_class: str | None = None
    diagnosis_confidence: int | None = None
    phase: str = str(Phase.UNAIDED)

    def answer(self) -> dict[str, object]:
        """The answer fields as a reader would submit them."""
        decision = None
        if self.biopsy is not None:
            decision = Decision.Choice.BIOPSY if self.biopsy else Decision.Choice.REASSURE
        return {
            "decision": decision,
            "confidence": self.confidence,
            "diagnosis_class": self.diagnosis_class,
            "diagnosis_confidence": self.diagnosis_confidence,
        }


@transaction.atomic
def decision_record_simulated(
    *, enrolment: Enrolment, answers: Iterable[SimulatedAnswer], at: datetime | None = None
) -> int:
    """Store a simulated reader's answers (demo, power checks) in the same Decision table.

    Only for enrolments marked ``simulated``; each answer becomes revision 1 of its phase
    with its own serving row of that phase (an aided answer only in an AI-assisted study).
    Returns the number of decisions stored.
    """
    if not enrolment.simulated:
        raise ValueError("decisions can be simulated only for a simulated enrolment")
    answers = list(answers)
    design = study_design(enrolment.study)
    study_case_ids = set(
        Case.objects.filter(study_id=enrolment.study_id).values_list("pk", flat=True)
    )
    fields = []
    for answer in answers:
        if answer.case_id not in study_case_ids:
            raise ValueError(f"case {answer.case_id} is not in study {enrolment.study_id}")
        if answer.phase not in Phase.values:
            raise ValueError(f"case {answer.case_id}: unknown phase {answer.phase!r}")
        if answer.phase == Phase.AIDED and not enrolment.study.aided:
            raise ValueError(f"case {answer.case_id}: an aided answer in a study read unaided")
        try:
            fields.append(design.answer_validate(answer.answer()))
        except DesignAnswerError as error:
            raise ValueError(f"case {answer.case_id}: {error.errors}") from None
    at = at or timezone.now()
    served = ServedCase.objects.bulk_create(
        [
            ServedCase(
                enrolment=enrolment,
                case_id=answer.case_id,
                token=secrets.token_urlsafe(32),
                served_at=at,
                phase=answer.phase,
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
                **answer_fields,
                revision=1,
                phase=answer.phase,
                served_at=at,
                submitted_at=at,
                active_ms=answer.active_ms,
            )
            for answer, answer_fields, serving in zip(answers, fields, served, strict=True)
        ]
    )
    return len(answers)
