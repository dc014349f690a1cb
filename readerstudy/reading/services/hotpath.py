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

Studies with AI-assisted reading go the general way too (their cases are served in phases,
reading/phases.py); here every serving is unaided. Whatever is not the common case goes the
general way, so its rules stay in one place: a token
used already (a replay), a refused insert (a race for a revision, or a case answered from
another serving where first answers are final: nothing was written, so the general path finds
what stands), an order that must be created or extended, and every database but PostgreSQL
(SQLite has no data-modifying CTEs; its round trips are function calls).
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from readerstudy.core.rows import execute
from readerstudy.reading.models import Decision, Phase, ReadingOrder, ServedCase
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


def _tables() -> dict[str, str]:
    quote = connection.ops.quote_name
    return {
        "served": quote(ServedCase._meta.db_table),
        "decision": quote(Decision._meta.db_table),
        "case": quote(Case._meta.db_table),
        "order": quote(ReadingOrder._meta.db_table),
    }


# Written out rather than built by the ORM: compiling its six subqueries cost more CPU than the
# database spends running them, on every submit.
_SUBMISSION_READ = """
SELECT s.id, s.case_id, s.served_at, c.public_id,
    EXISTS (SELECT 1 FROM {decision} d WHERE d.served_id = s.id),
    (SELECT MAX(d.revision) FROM {decision} d
        WHERE d.enrolment_id = s.enrolment_id AND d.case_id = s.case_id),
    o.case_ids, o.cases_count, o.cases_max_id,
    (SELECT COUNT(*) FROM {case} k WHERE k.study_id = %s),
    (SELECT COALESCE(MAX(k.id), 0) FROM {case} k WHERE k.study_id = %s),
    ARRAY(SELECT d.case_id FROM {decision} d WHERE d.enrolment_id = s.enrolment_id)
FROM {served} s
JOIN {case} c ON c.id = s.case_id
LEFT JOIN {order} o ON o.enrolment_id = s.enrolment_id
WHERE s.token = %s AND s.enrolment_id = %s
"""


def submission_read(*, enrolment: Enrolment, token: str) -> ServedCase | None:
    """The serving behind ``token`` (with its case's public id), carrying what the hot path
    needs to store its answer and choose the next case (``submission_facts``), in one round
    trip; None for an unknown token."""
    with connection.cursor() as cursor:
        execute(
            cursor,
            _SUBMISSION_READ.format(**_tables()),
            [enrolment.study_id, enrolment.study_id, token, enrolment.pk],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    (served_id, case_id, served_at, public_id, answered, latest, order_ids, order_count,
     order_max_id, count_now, max_id_now, decided) = row  # fmt: skip
    if isinstance(order_ids, str):  # a driver that leaves JSON undecoded
        order_ids = json.loads(order_ids)
    in_step = order_ids is not None and (order_count, order_max_id) == (count_now, max_id_now)
    served = ServedCase(
        pk=served_id,
        enrolment=enrolment,
        case=Case(pk=case_id, study_id=enrolment.study_id, public_id=public_id),
        token=token,
        served_at=served_at,
    )
    served._submission_facts = SubmissionRead(  # type: ignore[attr-defined]
        answered=answered,
        latest_revision=latest,
        order=[int(case_id) for case_id in order_ids] if in_step else None,
        decided_case_ids=frozenset(decided),
    )
    return served


def submission_facts(served: ServedCase) -> SubmissionRead:
    """What ``submission_read`` found besides the serving itself."""
    return served._submission_facts  # type: ignore[attr-defined,no-any-return]


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
            execute(cursor, f"{insert_decision} RETURNING id", decision_values)
            row = cursor.fetchone()
            if row is None:
                return None
            decision.pk = row[0]
            return decision, CaseServing(None, None, len(order), done, len(order), can_go_back)
        next_id = remaining[0]
        upcoming_id = remaining[1] if len(remaining) > 1 else None
        quote = connection.ops.quote_name
        tables = _tables()
        served_table, decision_table = tables["served"], tables["decision"]
        case_table = tables["case"]
        case_columns = ", ".join(f"c.{quote(column)}" for column in _CASE_COLUMNS)
        # The CTEs all read the statement's one snapshot, which does not hold the decision
        # inserted beside them: that decision is for another case than the next one.
        execute(
            cursor,
            f"""
            WITH new_decision AS ({insert_decision} RETURNING id),
            open_serving AS (
                SELECT s.id, s.token, s.served_at FROM {served_table} s
                WHERE s.enrolment_id = %s AND s.case_id = %s
                AND NOT EXISTS (SELECT 1 FROM {decision_table} d WHERE d.served_id = s.id)
                ORDER BY s.served_at DESC LIMIT 1
            ),
            new_serving AS (
                INSERT INTO {served_table} (enrolment_id, case_id, token, served_at, phase)
                SELECT %s, c.id, %s, %s, %s FROM {case_table} c
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
             enrolment.pk, secrets.token_urlsafe(32), timezone.now(), str(Phase.UNAIDED), next_id,
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
