"""The SQL a test captured, with prepared statements (core/rows.py) shown as what they run."""

from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

EXECUTE = re.compile(r"EXECUTE (rs_[0-9a-f]+)")


def statement_texts(queries: CaptureQueriesContext) -> list[str]:
    """Each captured statement's SQL; an ``EXECUTE rs_...`` is replaced by the text of the
    statement it runs, from the connection's pg_prepared_statements (so an assertion about
    which tables a request reads still sees them)."""
    texts = []
    for query in queries.captured_queries:
        sql = query["sql"]
        found = EXECUTE.match(sql)
        if found is not None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT statement FROM pg_prepared_statements WHERE name = %s",
                    [found.group(1)],
                )
                row = cursor.fetchone()
            assert row is not None, f"{found.group(1)} is not prepared on this connection"
            sql = row[0]
        texts.append(sql)
    return texts


def round_trips(queries: CaptureQueriesContext) -> int:
    """The statements a request sends every time: a PREPARE is sent once per connection, the
    first time it runs the statement, so it is not counted."""
    return sum(not query["sql"].startswith("PREPARE") for query in queries.captured_queries)
