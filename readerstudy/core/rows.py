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
``READERSTUDY_PREPARED_STATEMENTS=false`` turns this off for a connection pooler in transaction
mode (PgBouncer before 1.21), where a prepared statement does not follow its client.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Model

M = TypeVar("M", bound=Model)


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


def _prepared_names(cursor: CursorWrapper) -> set[str]:
    """The statements prepared on the cursor's database connection so far.

    Kept beside the connection object they belong to: a new connection (after CONN_MAX_AGE, a
    failed health check, a worker's reconnect) starts with none, and holding the old object
    until then means a new one can never be taken for it."""
    database = cursor.db
    state: tuple[object, set[str]] | None = getattr(database, "_readerstudy_prepared", None)
    if state is None or state[0] is not database.connection:
        state = (database.connection, set())
        database._readerstudy_prepared = state  # type: ignore[attr-defined]
    return state[1]


def execute(cursor: CursorWrapper, sql: str, params: Sequence[Any]) -> None:
    """Run ``sql`` (positional ``%s`` parameters) on ``cursor``: on PostgreSQL as a prepared
    statement of the connection, prepared the first time the connection runs it; elsewhere,
    or with READERSTUDY_PREPARED_STATEMENTS off, as it is.

    PostgreSQL infers each parameter's type from where it stands, as it does for a plain
    statement; a parameter whose type nothing around it gives needs a cast in ``sql``. A
    PREPARE outlives a rolled-back transaction, so the names recorded stay true."""
    if cursor.db.vendor != "postgresql" or not settings.PREPARED_STATEMENTS:
        cursor.execute(sql, params)
        return
    statement = _prepared(sql)
    names = _prepared_names(cursor)
    if statement.name not in names:
        cursor.execute(statement.prepare)
        names.add(statement.name)
    cursor.execute(statement.execute, params)


def fetch_one(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        execute(cursor, sql, params)
        return cursor.fetchone()  # type: ignore[no-any-return]
