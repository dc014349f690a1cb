"""Hand-written SQL of the hot path run as prepared statements of the PostgreSQL connection."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from readerstudy.core.rows import _prepared, execute, fetch_one
from tests.support.env import require

pytestmark = pytest.mark.django_db


def fresh_sql() -> str:
    """A statement no test ran before on this connection (its text names it)."""
    return f"SELECT %s::int + %s, %s || 'b' /* {uuid.uuid4().hex} */"


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"].split()[0].upper() for query in queries]


def _postgresql() -> None:
    require(connection.vendor == "postgresql", "prepared statements are PostgreSQL's")


def test_a_statement_is_prepared_once_per_connection_then_executed():
    _postgresql()
    SQL = fresh_sql()
    with CaptureQueriesContext(connection) as first:
        assert fetch_one(SQL, [1, 2, "a"]) == (3, "ab")
    with CaptureQueriesContext(connection) as second:
        assert fetch_one(SQL, [40, 2, "x"]) == (42, "xb")
    assert _statements(first) == ["PREPARE", "EXECUTE"]
    assert _statements(second) == ["EXECUTE"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE name = %s", [_prepared(SQL).name]
        )
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again():
    """After CONN_MAX_AGE or a failed health check the statement is gone with the old
    connection: the new one prepares it instead of executing a name it never saw."""
    _postgresql()
    SQL = fresh_sql()
    assert fetch_one(SQL, [1, 1, "a"]) == (2, "ab")
    connection.close()
    with CaptureQueriesContext(connection) as queries:
        assert fetch_one(SQL, [2, 2, "a"]) == (4, "ab")
    assert _statements(queries) == ["PREPARE", "EXECUTE"]


@pytest.mark.django_db(transaction=True)
def test_a_statement_prepared_in_a_rolled_back_transaction_stays_prepared():
    _postgresql()
    SQL = fresh_sql()
    with pytest.raises(RuntimeError), transaction.atomic():
        assert fetch_one(SQL, [1, 2, "a"]) == (3, "ab")
        raise RuntimeError("roll back")
    with CaptureQueriesContext(connection) as queries:
        assert fetch_one(SQL, [5, 5, "c"]) == (10, "cb")
    assert _statements(queries) == ["EXECUTE"]


@pytest.mark.django_db(transaction=True)
def test_a_failed_prepare_is_not_taken_for_a_prepared_statement():
    """A PREPARE that the database refuses (here inside a transaction that already failed)
    leaves nothing recorded: the next call prepares it."""
    _postgresql()
    SQL = fresh_sql()
    with transaction.atomic():
        with pytest.raises(DatabaseError), connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
        with pytest.raises(DatabaseError):
            fetch_one(SQL, [1, 2, "a"])
        transaction.set_rollback(True)
    with CaptureQueriesContext(connection) as queries:
        assert fetch_one(SQL, [1, 2, "a"]) == (3, "ab")
    assert _statements(queries) == ["PREPARE", "EXECUTE"]


def test_a_statement_without_parameters_executes_by_name():
    _postgresql()
    with connection.cursor() as cursor:
        execute(cursor, "SELECT 7", [])
        assert cursor.fetchone() == (7,)
    assert _prepared("SELECT 7").execute.endswith(_prepared("SELECT 7").name)


def test_prepared_statements_can_be_turned_off(settings):
    """READERSTUDY_PREPARED_STATEMENTS=false, for a pooler in transaction mode: plain SQL."""
    settings.PREPARED_STATEMENTS = False
    with CaptureQueriesContext(connection) as queries:
        assert fetch_one("SELECT %s + 1", [41]) == (42,)
    assert _statements(queries) == ["SELECT"]


def test_only_positional_placeholders_are_prepared():
    with pytest.raises(ValueError, match="positional"):
        _prepared("SELECT %(a)s")
    with pytest.raises(ValueError, match="positional"):
        _prepared("SELECT 'x' LIKE 'a%%'")
    statement = _prepared("SELECT %s, %s FROM t WHERE a = %s")
    assert statement.prepare.endswith("AS SELECT $1, $2 FROM t WHERE a = $3")
    assert statement.execute == f"EXECUTE {statement.name}(%s, %s, %s)"
