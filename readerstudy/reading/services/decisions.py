"""Storing a reader's answers: validated, exactly one decision per served token, and in
studies that allow changes a new revision per change."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from readerstudy.reading.models import Decision, ServedCase
from readerstudy.reading.services.hotpath import (
    decision_insert_and_serve,
    hot_path_available,
    submission_facts,
    submission_read,
)
from readerstudy.reading.services.serving import CaseServing, ServedCaseNotFound, next_case_serve
from readerstudy.studies.design import ANSWER_FIELDS, DesignAnswerError, study_design
from readerstudy.studies.models import Enrolment, Study


@dataclass(frozen=True)
class SubmitOutcome:
    decision: Decision
    case_public_id: uuid.UUID
    # False when the token had already been used (a double click, a retried request, a second
    # tab): the stored decision is returned and nothing new is written.
    created: bool


def _validated(
    study: Study, answer: Mapping[str, object], active_ms: object
) -> tuple[dict[str, object], int | None]:
    """The answer fields to store, checked against the study's design, and the active time."""
    errors: dict[str, str] = {}
    try:
        fields = study_design(study).answer_validate(answer)
    except DesignAnswerError as error:
        errors.update(error.errors)
        fields = {}
    active_value: int | None = None
    if active_ms not in (None, ""):
        try:
            active_value = int(active_ms)  # type: ignore[call-overload]
            if active_value < 0:
                raise ValueError
        except (TypeError, ValueError):
            errors["active_ms"] = "Active time must be a whole number of milliseconds, >= 0."
    if errors:
        raise ValidationError(errors)
    return fields, active_value


def _active_ms_capped(active_ms: int | None, served_at: datetime, now: datetime) -> int | None:
    """The page's visible time, never more than the time since the case was first served."""
    if active_ms is None:
        return None
    elapsed = int((now - served_at).total_seconds() * 1000)
    return max(0, min(active_ms, elapsed))


def _served_get(*, enrolment: Enrolment, token: str) -> ServedCase | None:
    return (
        ServedCase.objects.filter(token=token, enrolment=enrolment)
        .select_related("case")
        .only("id", "enrolment_id", "case_id", "served_at", "phase", "case__public_id")
        .first()
    )


def _submission_prepare(
    *,
    enrolment: Enrolment,
    token: str,
    answer: Mapping[str, object],
    active_ms: object,
    lookup: Callable[..., ServedCase | None] = _served_get,
) -> tuple[ServedCase, dict[str, object]]:
    """The serving behind ``token`` (found by ``lookup``) and the checked fields of the
    decision to store."""
    answer_fields, active_value = _validated(enrolment.study, answer, active_ms)
    served = lookup(enrolment=enrolment, token=token)
    if served is None:
        raise ServedCaseNotFound(token)
    now = timezone.now()
    fields = {
        **answer_fields,
        "active_ms": _active_ms_capped(active_value, served.served_at, now),
        "submitted_at": now,
    }
    return served, fields


def _decision_insert(
    *, enrolment: Enrolment, served: ServedCase, fields: dict[str, object]
) -> Decision:
    """Insert the decision; IntegrityError when the token was used already or, in studies that
    keep first answers final, the case was answered from another serving."""
    latest = None
    if enrolment.study.allow_answer_changes:
        latest = Decision.objects.filter(
            enrolment=enrolment, case_id=served.case_id, phase=served.phase
        ).aggregate(latest=Max("revision"))["latest"]
    return Decision.objects.create(
        enrolment=enrolment,
        case_id=served.case_id,
        served=served,
        revision=_revision_next(enrolment, latest),
        phase=served.phase,
        served_at=served.served_at,
        **fields,
    )


def _revision_next(enrolment: Enrolment, latest: int | None) -> int:
    """1 for a first answer, and in studies that allow changes one more than the latest."""
    return (latest or 0) + 1 if enrolment.study.allow_answer_changes else 1


def _decision_stored_before(*, enrolment: Enrolment, served: ServedCase) -> Decision | None:
    """After a refused insert: the decision that stands instead, or None when two changes of
    the same case raced for one revision number (the caller tries the next)."""
    replayed = Decision.objects.filter(served=served).first()
    if replayed is not None:
        return replayed
    if not enrolment.study.allow_answer_changes:
        # Another serving of the same case was answered first: that answer is final.
        return Decision.objects.get(
            enrolment=enrolment, case_id=served.case_id, phase=served.phase, revision=1
        )
    return None


_ATTEMPTS = 5
T = TypeVar("T")


def _submit_then(
    *,
    enrolment: Enrolment,
    token: str,
    answer: Mapping[str, object],
    active_ms: object,
    then: Callable[[], T],
) -> tuple[SubmitOutcome, T]:
    """Store the answer, then run ``then`` in the same transaction.

    The insert is the transaction's first write and needs no savepoint: when the database
    refuses it, the whole transaction rolls back, and ``then`` runs in a new one beside the
    decision that was already stored.
    """
    served, fields = _submission_prepare(
        enrolment=enrolment, token=token, answer=answer, active_ms=active_ms
    )
    public_id = served.case.public_id
    for _attempt in range(_ATTEMPTS):
        inserted = False
        try:
            with transaction.atomic():
                stored = _decision_insert(enrolment=enrolment, served=served, fields=fields)
                inserted = True
                return SubmitOutcome(stored, public_id, created=True), then()
        except IntegrityError:
            if inserted:  # not the decision's insert: nothing here to resolve
                raise
            earlier = _decision_stored_before(enrolment=enrolment, served=served)
            if earlier is not None:
                with transaction.atomic():
                    return SubmitOutcome(earlier, public_id, created=False), then()
    raise IntegrityError("could not store the decision after repeated revision conflicts")


def decision_submit(
    *,
    enrolment: Enrolment,
    token: str,
    decision: object = None,
    confidence: object = None,
    diagnosis_class: object = None,
    diagnosis_confidence: object = None,
    active_ms: object = None,
) -> SubmitOutcome:
    """Store the reader's answer to the case served with ``token``.

    The answer is checked against the study's design (``studies/design.py``): each question
    it asks must be answered, on its scale, and nothing it does not ask may be sent.
    Exactly one decision per token: the insert relies on the unique ``served`` column, and a
    refused insert returns the decision already stored (``created=False``) instead of an
    error. In studies that allow changes the decision gets the next revision number; in the
    others the first answer to a case is final, whichever token it came with.
    """
    answer = _answer(decision, confidence, diagnosis_class, diagnosis_confidence)
    outcome, _ = _submit_then(
        enrolment=enrolment, token=token, answer=answer, active_ms=active_ms, then=lambda: None
    )
    return outcome


def decision_submit_and_serve_next(
    *,
    enrolment: Enrolment,
    token: str,
    decision: object = None,
    confidence: object = None,
    diagnosis_class: object = None,
    diagnosis_confidence: object = None,
    active_ms: object = None,
) -> tuple[SubmitOutcome, CaseServing]:
    """``decision_submit``, then serve the next case, in one transaction: one commit (one
    flush to disk) per case instead of two, which is most of the cost of a submit.

    On PostgreSQL the common case takes two round trips (``hotpath``); the rest, and every
    AI-assisted study (whose phases the general path serves), goes the general way below."""
    answer = _answer(decision, confidence, diagnosis_class, diagnosis_confidence)
    if hot_path_available() and not enrolment.study.aided:
        served, fields = _submission_prepare(
            enrolment=enrolment, token=token, answer=answer, active_ms=active_ms,
            lookup=submission_read,
        )  # fmt: skip
        facts = submission_facts(served)
        if not facts.answered and facts.order is not None:
            new = Decision(
                enrolment=enrolment,
                case_id=served.case_id,
                served=served,
                revision=_revision_next(enrolment, facts.latest_revision),
                served_at=served.served_at,
                **fields,
            )
            stored = decision_insert_and_serve(
                enrolment=enrolment,
                decision=new,
                order=facts.order,
                decided_case_ids=facts.decided_case_ids,
            )
            if stored is not None:
                serving = stored[1] or next_case_serve(enrolment=enrolment)
                return SubmitOutcome(stored[0], served.case.public_id, created=True), serving
    return _submit_then(
        enrolment=enrolment, token=token, answer=answer, active_ms=active_ms,
        then=lambda: next_case_serve(enrolment=enrolment),
    )  # fmt: skip


def _answer(*values: object) -> dict[str, object]:
    """The submitted answer fields by name (ANSWER_FIELDS order)."""
    return dict(zip(ANSWER_FIELDS, values, strict=True))
