"""Model instances from hand-written SQL, for the reads that every grading request makes.

Compiling a queryset (joins, the models' default ordering that ``first()`` brings in, the
select list of a ``select_related``) costs more CPU than PostgreSQL spends running the query,
on every request. The reads of the grading hot path are written as SQL once per process
instead, and their rows become model instances here, converted exactly as the ORM converts
them (each field's ``from_db_value`` and the backend's converters).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection
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


def fetch_one(sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()  # type: ignore[no-any-return]
