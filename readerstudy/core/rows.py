"""Model instances from hand-written SQL, for the reads that every grading request makes.

Compiling a queryset (joins, the models' default ordering that ``first()`` brings in, the
select list of a ``select_related``) costs more CPU than PostgreSQL spends running the query,
on every request. The reads of the grading hot path are written as SQL once per process
instead, and their rows become model instances here, converted exactly as the ORM converts
them (each field's ``from_db_value`` and the backend's converters).

On PostgreSQL those reads (and the grading hot path's statements, reading/services/hotpath.py)
also run as prepared statements of the connection (``execute``): PostgreSQL then parses and
plans each of them once per connection instead of on every request, which was most of the
database's CPU for them (the submit's read: 0.62 ms a run as plain SQL, 0.20 ms prepared).
``READERSTUDY_PREPARED_STATEMENTS=false`` turns this off behind a connection pooler in
transaction mode (PgBouncer in any version: its ``max_prepared_statements`` follows the
protocol-level statements of drivers, not SQL ``PREPARE``), where a prepared statement does not
follow its client. A process that finds one of its statements gone from its connection turns it
off by itself and says so in the log (``execute``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Model

M = TypeVar("M", bound=Model)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelColumns:
    """Some concrete fields of a model: how to select them and build an instance from them
    (the fields left out are deferred, as with ``only``)."""

    model: type[Model]
    attnames: tuple[str, ...]
    columns: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]

    def select(self, alias: str) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{alias}.{quote(column)}" for column in self.columns)

    @property
    def table(self) -> str:
        return connection.ops.quote_name(self.model._meta.db_table)

    def build(self, values: Sequence[Any]) -> Any:
        values = list(values)
        for index, converters, expression in self.converters:
            for converter in converters:
                values[index] = converter(values[index], expression, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


@functools.cache
def model_columns(model: type[Model], fields: tuple[str, ...] | None = None) -> ModelColumns:
    """The columns of ``fields`` (names as ``only`` takes them; every concrete field when
    None), in the model's field order."""
    chosen = [
        field
        for field in model._meta.concrete_fields
        if fields is None or field.name in fields or field.attname in fields
    ]
    converters = []
    for index, field in enumerate(chosen):
        expression = field.get_col(model._meta.db_table)
        found = tuple(
            connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        )
        if found:
            converters.append((index, found, expression))
    return ModelColumns(
        model=model,
        attnames=tuple(field.attname for field in chosen),
        columns=tuple(field.column for field in chosen),
        converters=tuple(converters),
    )


@dataclass(frozen=True)
class Prepared:
    """A statement's PREPARE and EXECUTE forms."""

    name: str
    prepare: str
    execute: str


@functools.lru_cache(maxsize=256)
def _prepared(sql: str) -> Prepared:
    if "%%" in sql or "%(" in sql:
        raise ValueError("only positional %s placeholders can be prepared")
    parts = sql.split("%s")
    numbered = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))
    # The name comes from the text, so a statement that changes (another column, another
    # number of IN values) is another statement.
    name = "rs_" + hashlib.blake2b(sql.encode(), digest_size=10).hexdigest()
    arguments = ", ".join(["%s"] * (len(parts) - 1))
    return Prepared(
        name=name,
        prepare=f"PREPARE {name} AS {numbered}",
        execute=f"EXECUTE {name}({arguments})" if arguments else f"EXECUTE {name}",
    )


@dataclass
class _ConnectionStatements:
    """The statements prepared on one database connection so far, and those whose plan
    PostgreSQL refused since (to be deallocated before they are prepared again)."""

    connection: object
    names: set[str] = dataclasses.field(default_factory=set)
    stale: set[str] = dataclasses.field(default_factory=set)


def _connection_statements(cursor: CursorWrapper) -> _ConnectionStatements:
    """What ``execute`` prepared on the cursor's database connection.

    Kept beside the connection object it belongs to: a new connection (after CONN_MAX_AGE, a
    failed health check, a worker's reconnect) starts with none, and holding the old object
    until then means a new one can never be taken for it."""
    database = cursor.db
    state: _ConnectionStatements | None = getattr(database, "_readerstudy_prepared", None)
    if state is None or state.connection is not database.connection:
        state = _ConnectionStatements(database.connection)
        database._readerstudy_prepared = state  # type: ignore[attr-defined]
    return state


# SQLSTATEs of an EXECUTE that ran nothing and can be sent again: the statement is not on the
# connection (invalid_sql_statement_name), or a table it reads changed under its cached plan
# ("cached plan must not change result type", feature_not_supported: a migration altered a
# column while this process kept running).
_STATEMENT_GONE = "26000"
_PLAN_CHANGED = "0A000"

# Set when a statement prepared by this process vanished from its connection: the connection
# is shared (a pooler in transaction mode hands each transaction to any server connection), so
# every later statement of the process runs unprepared.
_unprepared = False


def _sqlstate(error: DatabaseError) -> str | None:
    return getattr(error.__cause__, "pgcode", None)


def execute(cursor: CursorWrapper, sql: str, params: Sequence[Any], *, again: bool = True) -> None:
    """Run ``sql`` (positional ``%s`` parameters) on ``cursor``: on PostgreSQL as a prepared
    statement of the connection, prepared the first time the connection runs it; elsewhere,
    or with READERSTUDY_PREPARED_STATEMENTS off, as it is.

    PostgreSQL infers each parameter's type from where it stands, as it does for a plain
    statement; a parameter whose type nothing around it gives needs a cast in ``sql``. A
    PREPARE outlives a rolled-back transaction, so the names recorded stay true.

    Where the database refuses an EXECUTE that ran nothing, the statement is sent again at
    once (``again``) when no transaction is open (the hot path runs in autocommit mode); inside
    a transaction that call fails, the transaction being aborted already, and the next one
    finds the state below:

    - the statement is gone from the connection (a pooler in transaction mode, which the
      setting should have turned off): this process logs a warning and runs plain SQL from
      then on;
    - its plan no longer fits a table that a migration changed beside the running process:
      it is deallocated and prepared again.
    """
    global _unprepared
    if cursor.db.vendor != "postgresql" or not settings.PREPARED_STATEMENTS or _unprepared:
        cursor.execute(sql, params)
        return
    statement = _prepared(sql)
    state = _connection_statements(cursor)
    if statement.name not in state.names:
        if statement.name in state.stale:
            cursor.execute(f"DEALLOCATE {statement.name}")
            state.stale.discard(statement.name)
        cursor.execute(statement.prepare)
        state.names.add(statement.name)
    try:
        cursor.execute(statement.execute, params)
    except DatabaseError as error:
        code = _sqlstate(error)
        if code == _STATEMENT_GONE:
            state.names.clear()
            if not _unprepared:
                logger.warning(
                    "prepared statement %s was gone from its PostgreSQL connection, which "
                    "happens behind a connection pooler in transaction mode: this process runs "
                    "its SQL unprepared from now on (set READERSTUDY_PREPARED_STATEMENTS=false "
                    "for such a pooler)",
                    statement.name,
                )
            _unprepared = True
        elif code == _PLAN_CHANGED:
            state.names.discard(statement.name)
            state.stale.add(statement.name)
        else:
            raise
        if not again or cursor.db.in_atomic_block or not cursor.db.get_autocommit():
            raise
        execute(cursor, sql, params, again=False)


def fetch_one(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        execute(cursor, sql, params)
        return cursor.fetchone()  # type: ignore[no-any-return]
