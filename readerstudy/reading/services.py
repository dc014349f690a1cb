"""Writes of the reading package: keeping a reader's order, serving cases, storing decisions."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, IntegerField, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from readerstudy.reading.models import Decision, ReadingOrder, ServedCase
from readerstudy.reading.ordering import order_extend
from readerstudy.studies.models import Case, Enrolment, Study

# What the grading page and the API show of a case: its opaque id and, when the study says so,
# clinical information. Never the truth fields.
READER_CASE_FIELDS = ("id", "study_id", "public_id", "width", "height", "age", "sex", "site")


class ServedCaseNotFound(LookupError):
    """The token is unknown, or belongs to another reader or another study."""


class AnswerChangesNotAllowed(PermissionError):
    """The study keeps first answers final."""


@dataclass(frozen=True)
class CaseServing:
    """What a reader is shown next: a case with its one-time token, or nothing when finished."""

    case: Case | None
    served: ServedCase | None
    number: int  # 1-based place of the case in the reader's order
    done: int
    total: int
    can_go_back: bool
    # The answer being changed when the reader went back to an answered case.
    current_answer: Decision | None = None
    # The case after this one in the reader's order, so the page can fetch its image early.
    upcoming_public_id: uuid.UUID | None = None

    @property
    def finished(self) -> bool:
        return self.case is None


@dataclass(frozen=True)
class SubmitOutcome:
    decision: Decision
    case_public_id: uuid.UUID
    # False when the token had already been used (a double click, a retried request, a second
    # tab): the stored decision is returned and nothing new is written.
    created: bool


@dataclass(frozen=True)
class SimulatedAnswer:
    case_id: int
    biopsy: bool
    confidence: int
    active_ms: int | None = None


def reading_order_sync(*, enrolment: Enrolment) -> list[int]:
    """The enrolment's case order (case ids), created on first use and extended by appending
    whenever the study's cases changed since."""
    cases = Case.objects.filter(study_id=enrolment.study_id).order_by().values("study_id")
    count = Subquery(cases.annotate(n=Count("pk")).values("n"), output_field=IntegerField())
    max_id = Subquery(cases.annotate(m=Max("pk")).values("m"), output_field=IntegerField())
    # One round trip on the hot path: the stored order with the study's case signature now.
    stored = (
        ReadingOrder.objects.filter(enrolment=enrolment)
        .annotate(count_now=Coalesce(count, 0), max_id_now=Coalesce(max_id, 0))
        .first()
    )
    if stored is not None:
        if stored.cases_count == stored.count_now and stored.cases_max_id == stored.max_id_now:
            return list(stored.case_ids)
        count_now, max_id_now = stored.count_now, stored.max_id_now
    else:
        stats = Case.objects.filter(study_id=enrolment.study_id).aggregate(
            count=Count("pk"), max_id=Max("pk")
        )
        count_now, max_id_now = stats["count"], stats["max_id"] or 0
    pairs = Case.objects.filter(study_id=enrolment.study_id).values_list("pk", "public_id")
    order = order_extend(enrolment.order_seed, stored.case_ids if stored else [], pairs)
    # An upsert: two first requests at once compute the same order (it is deterministic), so
    # whichever writes last writes the same list.
    ReadingOrder.objects.bulk_create(
        [
            ReadingOrder(
                enrolment=enrolment,
                case_ids=order,
                cases_count=count_now,
                cases_max_id=max_id_now,
            )
        ],
        update_conflicts=True,
        unique_fields=["enrolment"],
        update_fields=["case_ids", "cases_count", "cases_max_id", "updated_at"],
    )
    return order


def _decided_case_ids(enrolment: Enrolment) -> set[int]:
    # order_by(): Decision's default ordering would join the enrolment table for nothing.
    return set(
        Decision.objects.filter(enrolment=enrolment).order_by().values_list("case_id", flat=True)
    )


def _open_servings(enrolment: Enrolment) -> QuerySet[ServedCase]:
    return ServedCase.objects.filter(enrolment=enrolment, decision__isnull=True).order_by(
        "-served_at"
    )


def case_serve(*, enrolment: Enrolment, case: Case) -> ServedCase:
    """A one-time token for showing ``case`` to the reader.

    A reload or a second tab gets the same unused token (and the first serving time), so one
    showing of a case can only ever be answered once. Cases loaded by ``_reader_cases`` carry
    their open serving already, which saves the look-up.
    """
    if hasattr(case, "open_serving_id"):
        open_serving = (
            ServedCase(
                pk=case.open_serving_id,
                enrolment=enrolment,
                case=case,
                token=case.open_serving_token,
                served_at=case.open_serving_at,
            )
            if case.open_serving_id
            else None
        )
    else:
        open_serving = _open_servings(enrolment).filter(case=case).first()
    if open_serving is not None:
        return open_serving
    return ServedCase.objects.create(
        enrolment=enrolment, case=case, token=secrets.token_urlsafe(32), served_at=timezone.now()
    )


def _reader_cases(enrolment: Enrolment, ids: Iterable[int]) -> dict[int, Case]:
    """The cases with what a reader may see of them, and their open serving (if any)."""
    open_serving = _open_servings(enrolment).filter(case=OuterRef("pk"))
    cases = (
        Case.objects.filter(pk__in=list(ids))
        .only(*READER_CASE_FIELDS)
        .annotate(
            open_serving_id=Subquery(open_serving.values("pk")[:1]),
            open_serving_token=Subquery(open_serving.values("token")[:1]),
            open_serving_at=Subquery(open_serving.values("served_at")[:1]),
        )
    )
    return {case.pk: case for case in cases}


def next_case_serve(*, enrolment: Enrolment) -> CaseServing:
    """The first case in the reader's order that they have not answered, served with a token."""
    study = enrolment.study
    order = reading_order_sync(enrolment=enrolment)
    decided = _decided_case_ids(enrolment)
    remaining = [case_id for case_id in order if case_id not in decided]
    done = len(order) - len(remaining)
    can_go_back = study.allow_answer_changes and done > 0
    if not remaining:
        return CaseServing(None, None, len(order), done, len(order), can_go_back)
    cases = _reader_cases(enrolment, remaining[:2])
    case = cases[remaining[0]]
    upcoming = cases[remaining[1]].public_id if len(remaining) > 1 else None
    served = case_serve(enrolment=enrolment, case=case)
    return CaseServing(
        case=case,
        served=served,
        number=order.index(case.pk) + 1,
        done=done,
        total=len(order),
        can_go_back=can_go_back,
        upcoming_public_id=upcoming,
    )


def previous_case_serve(*, enrolment: Enrolment, before: uuid.UUID | None) -> CaseServing | None:
    """The answered case before ``before`` (or before the reader's current case), served with a
    fresh token so that the reader can change the answer; None when there is none."""
    study = enrolment.study
    if not study.allow_answer_changes:
        raise AnswerChangesNotAllowed(study.pk)
    order = reading_order_sync(enrolment=enrolment)
    decided = _decided_case_ids(enrolment)
    stop = len(order)
    if before is not None:
        before_id = (
            Case.objects.filter(study_id=study.pk, public_id=before)
            .values_list("pk", flat=True)
            .first()
        )
        if before_id in order:
            stop = order.index(before_id)
    else:
        stop = next((i for i, case_id in enumerate(order) if case_id not in decided), len(order))
    earlier = [case_id for case_id in order[:stop] if case_id in decided]
    if not earlier:
        return None
    case = _reader_cases(enrolment, earlier[-1:])[earlier[-1]]
    served = case_serve(enrolment=enrolment, case=case)
    current = Decision.objects.filter(enrolment=enrolment, case=case).order_by("-revision").first()
    done = sum(1 for case_id in order if case_id in decided)
    return CaseServing(
        case=case,
        served=served,
        number=order.index(case.pk) + 1,
        done=done,
        total=len(order),
        can_go_back=len(earlier) > 1,
        current_answer=current,
    )


def _validated(
    study: Study, decision: str, confidence: object, active_ms: object
) -> tuple[str, int, int | None]:
    errors: dict[str, str] = {}
    if decision not in Decision.Choice.values:
        errors["decision"] = "Choose biopsy / further testing or reassure."
    low, high = study.confidence_range
    try:
        confidence_value = int(confidence)  # type: ignore[call-overload]
        if str(confidence).strip() != str(confidence_value) or not low <= confidence_value <= high:
            raise ValueError
    except (TypeError, ValueError):
        errors["confidence"] = f"Give a confidence from {low} to {high}."
        confidence_value = low
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
    return decision, confidence_value, active_value


def _active_ms_capped(active_ms: int | None, served_at: datetime, now: datetime) -> int | None:
    """The page's visible time, never more than the time since the case was first served."""
    if active_ms is None:
        return None
    elapsed = int((now - served_at).total_seconds() * 1000)
    return max(0, min(active_ms, elapsed))


def _submission_prepare(
    *, enrolment: Enrolment, token: str, decision: str, confidence: object, active_ms: object
) -> tuple[ServedCase, dict[str, object]]:
    """The serving behind ``token`` and the checked fields of the decision to store."""
    decision, confidence_value, active_value = _validated(
        enrolment.study, decision, confidence, active_ms
    )
    served = (
        ServedCase.objects.filter(token=token, enrolment=enrolment)
        .select_related("case")
        .only("id", "enrolment_id", "case_id", "served_at", "case__public_id")
        .first()
    )
    if served is None:
        raise ServedCaseNotFound(token)
    now = timezone.now()
    fields = {
        "decision": decision,
        "confidence": confidence_value,
        "active_ms": _active_ms_capped(active_value, served.served_at, now),
        "submitted_at": now,
    }
    return served, fields


def _decision_insert(
    *, enrolment: Enrolment, served: ServedCase, fields: dict[str, object]
) -> Decision:
    """Insert the decision; IntegrityError when the token was used already or, in studies that
    keep first answers final, the case was answered from another serving."""
    revision = 1
    if enrolment.study.allow_answer_changes:
        latest = Decision.objects.filter(enrolment=enrolment, case_id=served.case_id).aggregate(
            latest=Max("revision")
        )["latest"]
        revision = (latest or 0) + 1
    return Decision.objects.create(
        enrolment=enrolment,
        case_id=served.case_id,
        served=served,
        revision=revision,
        served_at=served.served_at,
        **fields,
    )


def _decision_stored_before(*, enrolment: Enrolment, served: ServedCase) -> Decision | None:
    """After a refused insert: the decision that stands instead, or None when two changes of
    the same case raced for one revision number (the caller tries the next)."""
    replayed = Decision.objects.filter(served=served).first()
    if replayed is not None:
        return replayed
    if not enrolment.study.allow_answer_changes:
        # Another serving of the same case was answered first: that answer is final.
        return Decision.objects.get(enrolment=enrolment, case_id=served.case_id, revision=1)
    return None


_ATTEMPTS = 5
T = TypeVar("T")


def _submit_then(
    *,
    enrolment: Enrolment,
    token: str,
    decision: str,
    confidence: object,
    active_ms: object,
    then: Callable[[], T],
) -> tuple[SubmitOutcome, T]:
    """Store the answer, then run ``then`` in the same transaction.

    The insert is the transaction's first write and needs no savepoint: when the database
    refuses it, the whole transaction rolls back, and ``then`` runs in a new one beside the
    decision that was already stored.
    """
    served, fields = _submission_prepare(
        enrolment=enrolment, token=token, decision=decision, confidence=confidence,
        active_ms=active_ms,
    )  # fmt: skip
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
    decision: str,
    confidence: object,
    active_ms: object = None,
) -> SubmitOutcome:
    """Store the reader's answer to the case served with ``token``.

    Exactly one decision per token: the insert relies on the unique ``served`` column, and a
    refused insert returns the decision already stored (``created=False``) instead of an
    error. In studies that allow changes the decision gets the next revision number; in the
    others the first answer to a case is final, whichever token it came with.
    """
    outcome, _ = _submit_then(
        enrolment=enrolment, token=token, decision=decision, confidence=confidence,
        active_ms=active_ms, then=lambda: None,
    )  # fmt: skip
    return outcome


def decision_submit_and_serve_next(
    *,
    enrolment: Enrolment,
    token: str,
    decision: str,
    confidence: object,
    active_ms: object = None,
) -> tuple[SubmitOutcome, CaseServing]:
    """``decision_submit``, then serve the next case, in one transaction: one commit (one
    flush to disk) per case instead of two, which is most of the cost of a submit."""
    return _submit_then(
        enrolment=enrolment, token=token, decision=decision, confidence=confidence,
        active_ms=active_ms, then=lambda: next_case_serve(enrolment=enrolment),
    )  # fmt: skip


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
