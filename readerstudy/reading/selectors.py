"""Reads of the reading package: what a reader may grade, progress, and decisions for analysis.

Analyses call :func:`decision_final_list` (the last revision of every answer) and the CSV export
streams :func:`decision_iter` (every revision); neither ever loads a study's decisions into
memory at once.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models import Case as DbCase
from django.db.models.functions import Coalesce
from django.utils import timezone

from readerstudy.core.rows import fetch_one, model_columns
from readerstudy.reading.columns import DECISION_ANSWER_COLUMNS, DECISION_EXPORT_FIELDS
from readerstudy.reading.models import Decision, Phase, ReadingOrder, ServedCase
from readerstudy.reading.phases import second_session_opens, study_phase_count
from readerstudy.scoring.models import SaliencyMap
from readerstudy.scoring.saliency import study_saliency_get
from readerstudy.scoring.selectors import (
    study_algorithm_get,
    study_cnn_classes,
    study_cnn_probabilities,
)
from readerstudy.studies.confirmations import confirmation_name
from readerstudy.studies.design import ANSWER_FIELDS
from readerstudy.studies.models import Case, Enrolment, Study


@dataclass(frozen=True)
class ReaderProgress:
    enrolment_id: int
    pseudonym: str
    simulated: bool
    done: int
    total: int
    last_submitted_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.done >= self.total


@dataclass(frozen=True)
class ReaderStudy:
    """One line of a reader's home page."""

    study: Study
    done: int
    total: int
    # Crossover studies: when the reader's second session opens, while it has not yet.
    opens_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.total > 0 and self.done >= self.total

    @property
    def started(self) -> bool:
        return self.done > 0

    @property
    def gradable(self) -> bool:
        return self.study.status == Study.Status.OPEN and not self.finished and not self.waiting

    @property
    def waiting(self) -> bool:
        return self.opens_at is not None and self.opens_at > timezone.now()


@dataclass(frozen=True)
class FeedbackRow:
    """One case of a finished reader's feedback: their final answer (every field of
    ANSWER_FIELDS, None where the design does not ask it), the case's truth and the CNN's
    probability of malignancy."""

    number: int
    public_id: uuid.UUID
    answer: dict[str, object]
    diagnosis: str
    diagnosis_label: str
    truth: bool
    cnn_probability: float | None
    # The CNN's answer to the diagnosis question (a class code); None where the study asks no
    # diagnosis or the algorithm gave no class.
    cnn_class: str | None = None
    # An AI-assisted study's second answer, given with the CNN's output (as ``answer``), and
    # whether the output shown with it was inverted (a faulty-AI case).
    aided_answer: dict[str, object] | None = None
    ai_output_inverted: bool = False


def grading_enrolment_get(*, user: AbstractBaseUser, study_id: int) -> Enrolment | None:
    """The user's enrolment in ``study_id`` (with its study) if the study is open for grading,
    else None.

    Every request of grading starts here, so the query is written out (core/rows.py): the ORM
    spent longer compiling its join and the default orderings than PostgreSQL spends running
    it. An enrolment is unique per study and reader, so no order is needed."""
    enrolment_columns, study_columns = model_columns(Enrolment), model_columns(Study)
    row = fetch_one(
        f"SELECT {enrolment_columns.select('e')}, {study_columns.select('s')} "  # noqa: S608
        f"FROM {enrolment_columns.table} e JOIN {study_columns.table} s ON s.id = e.study_id "
        "WHERE e.study_id = %s AND e.reader_id = %s AND s.status = %s",
        [study_id, user.pk, str(Study.Status.OPEN)],
    )
    if row is None:
        return None
    split = len(enrolment_columns.columns)
    enrolment: Enrolment = enrolment_columns.build(row[:split])
    Enrolment._meta.get_field("study").set_cached_value(enrolment, study_columns.build(row[split:]))
    return enrolment


def finished_enrolment_get(*, user: AbstractBaseUser, study_id: int) -> Enrolment | None:
    """The user's enrolment in an open or closed (not draft) study, for the finish page."""
    return (
        Enrolment.objects.select_related("study")
        .filter(study_id=study_id, reader_id=user.pk)
        .exclude(study__status=Study.Status.DRAFT)
        .first()
    )


def reader_image_case_get(
    *, user: AbstractBaseUser, public_id: uuid.UUID, variant: str
) -> Case | None:
    """The case behind an image URL, if this reader may see it.

    Display and full-resolution images: enrolled in the case's study and the study is open.
    Thumbnails (the feedback page) also while the study is closed.
    """
    statuses = [str(Study.Status.OPEN)]
    if variant == "thumbnail":
        statuses.append(str(Study.Status.CLOSED))
    # Written out as grading_enrolment_get is: every case of grading loads its image.
    case_columns = model_columns(Case, ("id", "study_id", "image", "display_image", "thumbnail"))
    row = fetch_one(
        f"SELECT {case_columns.select('c')} FROM {case_columns.table} c "  # noqa: S608
        f"JOIN {model_columns(Study).table} s ON s.id = c.study_id "
        f"JOIN {model_columns(Enrolment).table} e ON e.study_id = c.study_id "
        f"WHERE c.public_id = %s AND s.status IN ({', '.join(['%s'] * len(statuses))}) "
        "AND e.reader_id = %s",
        [
            Case._meta.get_field("public_id").get_db_prep_value(public_id, connection),
            *statuses,
            user.pk,
        ],
    )
    return None if row is None else case_columns.build(row)  # type: ignore[no-any-return]


def reader_saliency_get(*, user: AbstractBaseUser, public_id: uuid.UUID) -> SaliencyMap | None:
    """The Grad-CAM map behind a reader's saliency URL, if this reader may see it: enrolled in
    the case's open study, which shows maps in its aided phase, and already served the case
    in that phase (the CNN's output reaches a reader only there, its map included)."""
    case = (
        Case.objects.filter(
            public_id=public_id,
            study__status=Study.Status.OPEN,
            study__enrolments__reader_id=user.pk,
        )
        .select_related("study")
        .only("id", "study")
        .first()
    )
    if case is None or not case.study.ai_show_saliency:
        return None
    served_aided = ServedCase.objects.filter(
        enrolment__study_id=case.study_id,
        enrolment__reader_id=user.pk,
        case_id=case.pk,
        phase=Phase.AIDED,
    ).exists()
    if not served_aided:
        return None
    return study_saliency_get(case.study, case.pk)


def _done_subquery(enrolment_ref: str = "pk") -> Subquery:
    # Answers given, one per case and phase: the first answer of each is revision 1.
    return Subquery(
        Decision.objects.filter(enrolment_id=OuterRef(enrolment_ref), revision=1)
        .order_by()
        .values("enrolment_id")
        .annotate(n=Count("pk"))
        .values("n"),
        output_field=IntegerField(),
    )


def _total_subquery(study_ref: str = "study_id") -> Subquery:
    return Subquery(
        Case.objects.filter(study_id=OuterRef(study_ref))
        .order_by()
        .values("study_id")
        .annotate(n=Count("pk"))
        .values("n"),
        output_field=IntegerField(),
    )


def second_session_opens_get(enrolment: Enrolment, *, cases: int, done: int) -> datetime | None:
    """In a crossover study, once the reader has answered every case of their first session
    and none of the second: when the second session opens (the last first-session answer plus
    the washout). None otherwise."""
    if cases == 0 or done != cases:
        return None
    return second_session_opens(enrolment)


def reader_progress_get(enrolment: Enrolment) -> tuple[int, int]:
    """(answers given, answers to give) for one reader: one per case, or in AI-assisted
    studies one per case and phase."""
    done = Decision.objects.filter(
        enrolment=enrolment, case__study_id=enrolment.study_id, revision=1
    ).count()
    total = Case.objects.filter(study_id=enrolment.study_id).count()
    return done, total * study_phase_count(enrolment.study)


def reader_progress_list(study: Study) -> list[ReaderProgress]:
    """Progress of every enrolled reader (people and simulated), by pseudonym."""
    last = Subquery(
        Decision.objects.filter(enrolment_id=OuterRef("pk"))
        .order_by("-submitted_at")
        .values("submitted_at")[:1]
    )
    total = Case.objects.filter(study=study).count() * study_phase_count(study)
    rows = (
        Enrolment.objects.filter(study=study)
        .annotate(done=Coalesce(_done_subquery(), 0), last_submitted_at=last)
        .order_by("pseudonym")
        .values_list("pk", "pseudonym", "simulated", "done", "last_submitted_at")
    )
    return [
        ReaderProgress(pk, pseudonym, simulated, done, total, last_at)
        for pk, pseudonym, simulated, done, last_at in rows
    ]


def reader_study_list(*, user: AbstractBaseUser) -> list[ReaderStudy]:
    """The studies a reader is enrolled in that are open or closed, with their progress."""
    rows = (
        Enrolment.objects.filter(reader_id=user.pk)
        .exclude(study__status=Study.Status.DRAFT)
        .select_related("study")
        .annotate(done=Coalesce(_done_subquery(), 0), total=Coalesce(_total_subquery(), 0))
        .order_by("-study__created_at")
    )
    studies = [
        ReaderStudy(
            row.study,
            row.done,
            row.total * study_phase_count(row.study),
            second_session_opens_get(row, cases=row.total, done=row.done),
        )
        for row in rows
    ]
    # Open studies first: those are the ones to work on.
    return sorted(studies, key=lambda row: row.study.status != Study.Status.OPEN)


def decision_final_list(study: Study, *, phase: str = str(Phase.UNAIDED)) -> QuerySet:
    """The last answer of every reader to every case they answered in ``phase`` (one row per
    pair): unaided by default, the answers every study has and that the readers-vs-CNN
    analyses compare; AI-assisted studies also have ``Phase.AIDED``.

    Rows are dicts with enrolment_id, pseudonym, simulated, case_id, biopsy (bool, None where
    the design asks no management decision), confidence, revision, served_at, submitted_at,
    active_ms, diagnosis_class, diagnosis_confidence; ordered by pseudonym, then case position.
    """
    later = Decision.objects.filter(
        enrolment_id=OuterRef("enrolment_id"),
        case_id=OuterRef("case_id"),
        phase=phase,
        revision__gt=OuterRef("revision"),
    )
    return (
        Decision.objects.filter(enrolment__study=study, phase=phase)
        .filter(~Exists(later))
        .annotate(
            pseudonym=F("enrolment__pseudonym"),
            simulated=F("enrolment__simulated"),
            # None where the study's design asks no management decision.
            biopsy=DbCase(
                When(decision__isnull=True, then=Value(None)),
                default=ExpressionWrapper(Q(decision=Decision.Choice.BIOPSY), BooleanField()),
                output_field=BooleanField(null=True),
            ),
        )
        .order_by("enrolment__pseudonym", "case__position")
        .values(
            "enrolment_id",
            "pseudonym",
            "simulated",
            "case_id",
            "biopsy",
            # The answer as exported, with ``biopsy`` in place of the decision's name.
            *(column for column in DECISION_ANSWER_COLUMNS if column != "decision"),
        )
    )


def decision_iter(study: Study, *, chunk_size: int = 2000) -> Iterator[tuple]:
    """Every decision of a study, all revisions, as tuples in DECISION_EXPORT_COLUMNS order.

    Streams from the database in chunks (a server-side cursor on PostgreSQL), so an export of
    any size runs in constant memory.
    """
    return (
        Decision.objects.filter(enrolment__study=study)
        .order_by("enrolment__pseudonym", "case__position", "revision")
        .values_list(*DECISION_EXPORT_FIELDS.values())
        .iterator(chunk_size=chunk_size)
    )


def _answer_fields(row: dict) -> dict[str, object]:
    """ANSWER_FIELDS of a decision_final_list row (which gives the decision as ``biopsy``)."""
    answer = {name: row.get(name) for name in ANSWER_FIELDS}
    if row["biopsy"] is not None:
        answer["decision"] = (
            Decision.Choice.BIOPSY if row["biopsy"] else Decision.Choice.REASSURE
        ).value
    return answer


def feedback_row_list(enrolment: Enrolment) -> list[FeedbackRow]:
    """Per case, in the reader's order: their final answer, the truth and the CNN's score
    (and its class, in a study that asks a diagnosis).

    Only for a reader who has answered every case; the view checks that first.
    """
    order = ReadingOrder.objects.filter(enrolment=enrolment).values_list("case_ids", flat=True)
    order_ids = list(order.first() or [])
    place = {case_id: n for n, case_id in enumerate(order_ids, start=1)}
    # The study's algorithm (cases it has not scored yet are missing).
    study = enrolment.study
    model_version = study_algorithm_get(study)
    scores = study_cnn_probabilities(study, model_version) if model_version else {}
    classes = (
        study_cnn_classes(study, model_version) if model_version and study.asks_diagnosis else {}
    )
    answers = {
        row["case_id"]: row
        for row in decision_final_list(enrolment.study).filter(enrolment=enrolment)
    }
    aided = (
        {
            row["case_id"]: row
            for row in decision_final_list(study, phase=str(Phase.AIDED)).filter(
                enrolment=enrolment
            )
        }
        if study.aided
        else {}
    )
    cases = Case.objects.filter(study_id=enrolment.study_id).only(
        "id", "public_id", "position", "diagnosis_label", "diagnosis", "truth", "ai_output_inverted"
    )
    rows = [
        FeedbackRow(
            number=place.get(case.pk, len(place) + case.position + 1),
            public_id=case.public_id,
            answer=_answer_fields(answers[case.pk]),
            diagnosis=case.diagnosis,
            diagnosis_label=case.diagnosis_label or case.diagnosis,
            truth=case.truth,
            cnn_probability=scores.get(case.pk),
            cnn_class=classes.get(case.pk),
            aided_answer=_answer_fields(aided[case.pk]) if case.pk in aided else None,
            ai_output_inverted=study.aided and case.ai_output_inverted,
        )
        for case in cases
        if case.pk in answers
    ]
    return sorted(rows, key=lambda row: row.number)


def confirmation_count_list(study: Study) -> list[tuple[str, int]]:
    """How the study's diagnoses were confirmed, as (method in readers' words, or "" where none
    is recorded; number of cases), most cases first and the unrecorded last."""
    counts: Counter[str] = Counter()
    rows = (
        Case.objects.filter(study=study)
        .values_list("biopsy_proven", "confirmation")
        .annotate(cases=Count("id"))
        .order_by()
    )
    for biopsy_proven, confirmation, cases in rows:
        counts[confirmation_name(confirmation, biopsy_proven=biopsy_proven)] += cases
    return sorted(counts.items(), key=lambda item: (item[0] == "", -item[1], item[0]))


def decision_stamp_get(study: Study) -> tuple[int, int | None]:
    """How many decisions the study holds and the newest one's id: changes with every answer
    (what an analysis page polls to tell whether to redraw)."""
    stamp = Decision.objects.filter(enrolment__study=study).aggregate(n=Count("pk"), last=Max("pk"))
    return stamp["n"], stamp["last"]
