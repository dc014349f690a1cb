"""Serving cases to a reader: their order, the next case with its one-time token, and going
back to an answered case."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, IntegerField, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from readerstudy.celery import enqueue_on_commit
from readerstudy.reading.models import Decision, ReadingOrder, ServedCase
from readerstudy.reading.ordering import order_extend
from readerstudy.reading.phases import UNAIDED, reading_plan
from readerstudy.scoring.saliency import STUDY_SALIENCY_PREPARE_TASK, study_saliency_request
from readerstudy.studies.models import Case, Enrolment

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
    # AI-assisted studies (reading/phases.py): the phase of this serving, and, between the
    # sessions of a crossover, when the second session opens (case is None meanwhile).
    phase: str = UNAIDED
    locked_until: datetime | None = None
    # AI-assisted studies: how many cases the session has (``number`` is then the case's place
    # in its session, ``total`` the reader's steps), which crossover session this is (1 or 2),
    # and in a sequential aided step the reader's locked unaided answer to the case.
    cases: int | None = None
    session: int | None = None
    unaided_answer: Decision | None = None

    @property
    def finished(self) -> bool:
        return self.case is None and self.locked_until is None

    @property
    def waiting(self) -> bool:
        return self.locked_until is not None


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
    study = enrolment.study
    if study.aided and study.ai_show_saliency:
        # Every map this reader will see, drawn ahead in their order: asked for only at
        # serving (this case and the next), a map could still be on its way when a quick
        # reader reached its aided phase, who then answered without it.
        enqueue_on_commit(STUDY_SALIENCY_PREPARE_TASK, study_id=study.pk, case_ids=order)
    return order


def _decided_case_ids(enrolment: Enrolment) -> set[int]:
    # order_by(): Decision's default ordering would join the enrolment table for nothing.
    return set(
        Decision.objects.filter(enrolment=enrolment).order_by().values_list("case_id", flat=True)
    )


def _decided_steps(enrolment: Enrolment) -> set[tuple[int, str]]:
    return set(
        Decision.objects.filter(enrolment=enrolment).order_by().values_list("case_id", "phase")
    )


def _open_servings(enrolment: Enrolment, phase: str = UNAIDED) -> QuerySet[ServedCase]:
    return ServedCase.objects.filter(
        enrolment=enrolment, phase=phase, decision__isnull=True
    ).order_by("-served_at")


def case_serve(*, enrolment: Enrolment, case: Case, phase: str = UNAIDED) -> ServedCase:
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
                phase=phase,
            )
            if case.open_serving_id
            else None
        )
    else:
        open_serving = _open_servings(enrolment, phase).filter(case=case).first()
    if open_serving is not None:
        return open_serving
    return ServedCase.objects.create(
        enrolment=enrolment,
        case=case,
        token=secrets.token_urlsafe(32),
        served_at=timezone.now(),
        phase=phase,
    )


def _reader_cases(
    enrolment: Enrolment, ids: Iterable[int], phase: str = UNAIDED
) -> dict[int, Case]:
    """The cases with what a reader may see of them, and their open serving in ``phase`` (if
    any)."""
    open_serving = _open_servings(enrolment, phase).filter(case=OuterRef("pk"))
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
    """The first case in the reader's order that they have not answered, served with a token
    (in AI-assisted studies: the reader's next step, see ``reading/phases.py``)."""
    study = enrolment.study
    order = reading_order_sync(enrolment=enrolment)
    if study.aided:
        return _next_step_serve(enrolment, order)
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


def _next_step_serve(enrolment: Enrolment, order: list[int]) -> CaseServing:
    """The next (case, phase) of an AI-assisted study's reader; between crossover sessions,
    no case and the time the second session opens."""
    public_ids = None
    if enrolment.study.ai_assistance == enrolment.study.AiAssistance.CROSSOVER:
        public_ids = dict(
            Case.objects.filter(study_id=enrolment.study_id).values_list("pk", "public_id")
        )
    plan = reading_plan(enrolment, order, public_ids)
    decided = _decided_steps(enrolment)
    remaining = plan.remaining(decided)
    total = len(plan.steps)
    done = total - len(remaining)
    if not remaining:
        return CaseServing(None, None, total, done, total, can_go_back=False)
    opens = plan.locked_until(enrolment, decided)
    if opens is not None and opens > timezone.now():
        return CaseServing(None, None, done, done, total, can_go_back=False, locked_until=opens)
    case_id, phase = remaining[0]
    upcoming_id = next((c for c, _ in remaining[1:] if c != case_id), None)
    cases = _reader_cases(enrolment, [case_id], phase)
    if upcoming_id is not None:
        cases |= _reader_cases(enrolment, [upcoming_id], phase)
    case = cases[case_id]
    served = case_serve(enrolment=enrolment, case=case, phase=phase)
    if enrolment.study.ai_show_saliency:
        # Grad-CAM takes a worker a second or more: ask for this case's map and the next one's
        # now, so that it is usually there when the CNN's output is revealed.
        ids = [case_id] if upcoming_id is None else [case_id, upcoming_id]
        study_saliency_request(enrolment.study, ids)
    step = plan.steps.index((case_id, phase))
    unaided_answer = None
    session = None
    if not plan.washout:
        number = order.index(case_id) + 1
        if phase != UNAIDED:
            unaided_answer = (
                Decision.objects.filter(enrolment=enrolment, case_id=case_id, phase=UNAIDED)
                .order_by("-revision")
                .first()
            )
    else:
        session = 1 if step < plan.first_session else 2
        number = step + 1 if session == 1 else step - plan.first_session + 1
    return CaseServing(
        case=case,
        served=served,
        number=number,
        done=done,
        total=total,
        can_go_back=False,
        upcoming_public_id=cases[upcoming_id].public_id if upcoming_id is not None else None,
        phase=phase,
        cases=len(order),
        session=session,
        unaided_answer=unaided_answer,
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
