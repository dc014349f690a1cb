"""Hand-written SQL of the hot path run as prepared statements of the PostgreSQL connection."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from readerstudy.core import rows
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


@pytest.fixture
def prepared_on(monkeypatch):
    """Prepared statements on for this process whatever an earlier test left behind, and
    whatever this test turns off restored afterwards."""
    monkeypatch.setattr(rows, "_unprepared", False)


def _deallocate_all() -> None:
    """What a pooler in transaction mode does to a client: its next transaction runs on a
    server connection that never saw its PREPAREs."""
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")


@pytest.mark.django_db(transaction=True)
def test_a_statement_gone_from_its_connection_is_sent_unprepared_from_then_on(prepared_on, caplog):
    _postgresql()
    SQL = fresh_sql()
    assert fetch_one(SQL, [1, 2, "a"]) == (3, "ab")
    _deallocate_all()
    with CaptureQueriesContext(connection) as queries:
        assert fetch_one(SQL, [2, 2, "a"]) == (4, "ab")
    # The refused EXECUTE ran nothing; the same statement went again, as plain SQL.
    assert _statements(queries) == ["EXECUTE", "SELECT"]
    assert "READERSTUDY_PREPARED_STATEMENTS=false" in caplog.text
    assert _prepared(SQL).name in caplog.text
    with CaptureQueriesContext(connection) as later:
        assert fetch_one(fresh_sql(), [3, 3, "c"]) == (6, "cb")
        assert fetch_one(SQL, [4, 4, "d"]) == (8, "db")
    assert _statements(later) == ["SELECT", "SELECT"]


@pytest.mark.django_db(transaction=True)
def test_a_statement_gone_inside_a_transaction_fails_that_transaction_only(prepared_on):
    """The transaction is aborted by the refused EXECUTE, so nothing can be sent again in it;
    the next request runs unprepared."""
    _postgresql()
    SQL = fresh_sql()
    assert fetch_one(SQL, [1, 2, "a"]) == (3, "ab")
    _deallocate_all()
    with pytest.raises(DatabaseError, match="does not exist"), transaction.atomic():
        fetch_one(SQL, [1, 1, "a"])
    with CaptureQueriesContext(connection) as queries:
        assert fetch_one(SQL, [1, 1, "a"]) == (2, "ab")
    assert _statements(queries) == ["SELECT"]


@pytest.fixture
def plan_table():
    """A table of its own whose column a test changes under a prepared plan, as a migration
    run beside a web process does."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE rs_test_plan (id integer, label varchar(10))")
        cursor.execute("INSERT INTO rs_test_plan VALUES (1, 'nevus')")
    yield "rs_test_plan"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS rs_test_plan")


def _widen(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN label TYPE varchar(40)")


@pytest.mark.django_db(transaction=True)
def test_a_plan_that_a_migration_changed_is_prepared_again(prepared_on, plan_table):
    _postgresql()
    SQL = f"SELECT label FROM {plan_table} WHERE id = %s /* {uuid.uuid4().hex} */"  # noqa: S608
    assert fetch_one(SQL, [1]) == ("nevus",)
    _widen(plan_table)
    with CaptureQueriesContext(connection) as queries:
        assert fetch_one(SQL, [1]) == ("nevus",)
    assert _statements(queries) == ["EXECUTE", "DEALLOCATE", "PREPARE", "EXECUTE"]
    with CaptureQueriesContext(connection) as later:
        assert fetch_one(SQL, [1]) == ("nevus",)
    assert _statements(later) == ["EXECUTE"]
    assert rows._unprepared is False


@pytest.mark.django_db(transaction=True)
def test_a_changed_plan_inside_a_transaction_is_prepared_again_by_the_next_call(
    prepared_on, plan_table
):
    _postgresql()
    SQL = f"SELECT label FROM {plan_table} WHERE id = %s /* {uuid.uuid4().hex} */"  # noqa: S608
    assert fetch_one(SQL, [1]) == ("nevus",)
    _widen(plan_table)
    with pytest.raises(DatabaseError, match="cached plan"), transaction.atomic():
        fetch_one(SQL, [1])
    with CaptureQueriesContext(connection) as queries:
        assert fetch_one(SQL, [1]) == ("nevus",)
    assert _statements(queries) == ["DEALLOCATE", "PREPARE", "EXECUTE"]


@pytest.mark.django_db(transaction=True)
def test_other_refusals_are_not_sent_again(prepared_on):
    _postgresql()
    SQL = f"SELECT 1 / %s /* {uuid.uuid4().hex} */"
    assert fetch_one(SQL, [1]) == (1,)
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(DatabaseError, match="division by zero"),
    ):
        fetch_one(SQL, [0])
    assert _statements(queries) == ["EXECUTE"]
