"""Submit + next case in two database round trips on PostgreSQL: the grading hot path.

The general path (``decisions._submit_then`` with ``serving.next_case_serve``) reads the
serving, opens a transaction, inserts the decision, reads the order, the answered cases and the
next cases, inserts the next serving and commits: eight round trips with BEGIN and COMMIT. Every
case of every reader takes it, so here the common case takes two:

1. one read (``submission_read``): the serving behind the token with its case, whether it was
   answered, the case's latest revision, the reader's stored order with the study's case
   signature now, and the cases the reader has answered;
2. one statement (``decision_insert_and_serve``), atomic on its own in autocommit mode, so it
   needs neither BEGIN nor COMMIT: data-modifying CTEs insert the decision (``ON CONFLICT DO
   NOTHING``), then, only if that row went in, the next case's serving unless an unanswered one
   is open already, and return the next case's fields.

Whatever is not the common case goes the general way, so its rules stay in one place: a token
used already (a replay), a refused insert (a race for a revision, or a case answered from
another serving where first answers are final: nothing was written, so the general path finds
what stands), an order that must be created or extended, and every database but PostgreSQL
(SQLite has no data-modifying CTEs; its round trips are function calls).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import Count, Exists, IntegerField, JSONField, Max, OuterRef, Subquery
from django.utils import timezone

from readerstudy.reading.models import Decision, ReadingOrder, ServedCase
from readerstudy.reading.services.serving import READER_CASE_FIELDS, CaseServing
from readerstudy.studies.models import Case, Enrolment


def hot_path_available() -> bool:
    return connection.vendor == "postgresql"


@dataclass(frozen=True)
class SubmissionRead:
    """What the one read of a submit found besides the serving itself."""

    answered: bool
    latest_revision: int | None
    # The reader's order when it is stored and still matches the study's cases, else None.
    order: list[int] | None
    decided_case_ids: frozenset[int]


def submission_read(*, enrolment: Enrolment, token: str) -> ServedCase | None:
    """The serving behind ``token`` (with its case's public id), annotated with what the hot
    path needs to store its answer and choose the next case (``submission_facts``), in one
    round trip; None for an unknown token."""
    cases = Case.objects.filter(study_id=enrolment.study_id).order_by().values("study_id")
    stored_order = ReadingOrder.objects.filter(enrolment_id=enrolment.pk)
    return (
        ServedCase.objects.filter(token=token, enrolment=enrolment)
        .select_related("case")
        .only("id", "enrolment_id", "case_id", "served_at", "case__public_id")
        .annotate(
            answered=Exists(Decision.objects.filter(served=OuterRef("pk"))),
            latest_revision=Subquery(
                Decision.objects.filter(enrolment_id=enrolment.pk, case_id=OuterRef("case_id"))
                .order_by()
                .values("case_id")
                .annotate(latest=Max("revision"))
                .values("latest"),
                output_field=IntegerField(),
            ),
            order_ids=Subquery(stored_order.values("case_ids"), output_field=JSONField()),
            order_count=Subquery(stored_order.values("cases_count")),
            order_max_id=Subquery(stored_order.values("cases_max_id")),
            count_now=Subquery(
                cases.annotate(n=Count("pk")).values("n"), output_field=IntegerField()
            ),
            max_id_now=Subquery(
                cases.annotate(m=Max("pk")).values("m"), output_field=IntegerField()
            ),
            decided=ArraySubquery(
                Decision.objects.filter(enrolment_id=enrolment.pk).order_by().values("case_id")
            ),
        )
        .first()
    )


def submission_facts(served: ServedCase) -> SubmissionRead:
    """What ``submission_read`` found besides the serving itself."""
    row = served.__dict__
    in_step = (
        row["order_ids"] is not None
        and row["order_count"] == (row["count_now"] or 0)
        and row["order_max_id"] == (row["max_id_now"] or 0)
    )
    return SubmissionRead(
        answered=row["answered"],
        latest_revision=row["latest_revision"],
        order=list(row["order_ids"]) if in_step else None,
        decided_case_ids=frozenset(row["decided"] or ()),
    )


def _insert_sql(table: str, columns: list[str]) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    values = ", ".join(["%s"] * len(columns))
    # Only the model's own table and column names are written into the SQL; values are
    # parameters.
    return f"INSERT INTO {quote(table)} ({names}) VALUES ({values}) ON CONFLICT DO NOTHING"  # noqa: S608


def _decision_row(decision: Decision) -> tuple[list[str], list[object]]:
    """Columns and database values of a new decision, every concrete field but the id: a field
    added to Decision is stored here without a change."""
    columns, values = [], []
    for field in Decision._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        values.append(field.get_db_prep_save(getattr(decision, field.attname), connection))
    return columns, values


_CASE_COLUMNS = [Case._meta.get_field(name).column for name in READER_CASE_FIELDS]


def decision_insert_and_serve(
    *,
    enrolment: Enrolment,
    decision: Decision,
    order: list[int],
    decided_case_ids: frozenset[int],
) -> tuple[Decision, CaseServing | None] | None:
    """Store ``decision`` and serve the reader's next case in one statement.

    None when the database refused the decision (nothing was written); a None serving when the
    decision is stored but the next case could not be served here (it vanished in between).
    Conflicts never raise (``ON CONFLICT DO NOTHING``), so inside a caller's transaction the
    statement needs no savepoint either.
    """
    decided = decided_case_ids | {decision.case_id}
    remaining = [case_id for case_id in order if case_id not in decided]
    done = len(order) - len(remaining)
    can_go_back = enrolment.study.allow_answer_changes and done > 0
    decision_columns, decision_values = _decision_row(decision)
    insert_decision = _insert_sql(Decision._meta.db_table, decision_columns)
    with connection.cursor() as cursor:
        if not remaining:
            cursor.execute(f"{insert_decision} RETURNING id", decision_values)
            row = cursor.fetchone()
            if row is None:
                return None
            decision.pk = row[0]
            return decision, CaseServing(None, None, len(order), done, len(order), can_go_back)
        next_id = remaining[0]
        upcoming_id = remaining[1] if len(remaining) > 1 else None
        quote = connection.ops.quote_name
        served_table = quote(ServedCase._meta.db_table)
        decision_table = quote(Decision._meta.db_table)
        case_table = quote(Case._meta.db_table)
        case_columns = ", ".join(f"c.{quote(column)}" for column in _CASE_COLUMNS)
        # The CTEs all read the statement's one snapshot, which does not hold the decision
        # inserted beside them: that decision is for another case than the next one.
        cursor.execute(
            f"""
            WITH new_decision AS ({insert_decision} RETURNING id),
            open_serving AS (
                SELECT s.id, s.token, s.served_at FROM {served_table} s
                WHERE s.enrolment_id = %s AND s.case_id = %s
                AND NOT EXISTS (SELECT 1 FROM {decision_table} d WHERE d.served_id = s.id)
                ORDER BY s.served_at DESC LIMIT 1
            ),
            new_serving AS (
                INSERT INTO {served_table} (enrolment_id, case_id, token, served_at)
                SELECT %s, c.id, %s, %s FROM {case_table} c
                WHERE c.id = %s AND EXISTS (SELECT 1 FROM new_decision)
                AND NOT EXISTS (SELECT 1 FROM open_serving)
                RETURNING id, token, served_at
            ),
            serving AS (SELECT * FROM new_serving UNION ALL SELECT * FROM open_serving)
            SELECT (SELECT id FROM new_decision), serving.id, serving.token, serving.served_at,
                (SELECT public_id FROM {case_table} WHERE id = %s), {case_columns}
            FROM (SELECT 1) AS one
            LEFT JOIN {case_table} c ON c.id = %s
            LEFT JOIN serving ON true
            """,  # noqa: S608 (table and column names from the models; values are parameters)
            [*decision_values, enrolment.pk, next_id,
             enrolment.pk, secrets.token_urlsafe(32), timezone.now(), next_id,
             upcoming_id, next_id],
        )  # fmt: skip
        row = cursor.fetchone()
    if row[0] is None:
        return None
    decision.pk = row[0]
    if row[1] is None:
        return decision, None
    case = Case(**dict(zip(READER_CASE_FIELDS, row[5:], strict=True)))
    served = ServedCase(pk=row[1], enrolment=enrolment, case=case, token=row[2], served_at=row[3])
    upcoming: uuid.UUID | None = row[4]
    return decision, CaseServing(
        case=case,
        served=served,
        number=order.index(next_id) + 1,
        done=done,
        total=len(order),
        can_go_back=can_go_back,
        upcoming_public_id=upcoming,
    )
