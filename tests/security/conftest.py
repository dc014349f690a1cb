"""The security tests' world: two studies with every kind of object, and seven actors; and the
PostgreSQL requirement and HTTP sessions of the concurrency tests.

Study S is coordinated by ``coordinator`` and graded by ``reader_a``; study T belongs to
``other_coordinator`` and is graded by ``reader_b``. S has cases, reader A's decisions (and a
case served to A but not yet answered), CNN scores from the active model, an import job, a
saliency map; every path parameter of every route is filled from these.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from tests.support.env import require
from tests.support.world import (
    World,
    _WideServerThread,
    build_world,
)


@pytest.fixture
def world(db: None, settings) -> World:
    # Seven accounts per test: a fast hasher keeps the setup short (test_login.py, which is
    # about passwords, keeps the real one).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return build_world()


@pytest.fixture
def postgresql(transactional_db: None) -> None:
    """Concurrent writers only mean something on PostgreSQL: SQLite serialises every write
    (IMMEDIATE transactions), so a race cannot happen there. Skips elsewhere, fails in CI."""
    require(
        connection.vendor == "postgresql",
        f"needs PostgreSQL (set DATABASE_URL=postgres://...); this run uses {connection.vendor}",
    )


@pytest.fixture
def burst_server(transactional_db: None) -> Iterator[str]:
    """A live server (real sockets, a thread per request, the test database) that accepts
    a burst of simultaneous connections; yields its base URL."""
    thread = _WideServerThread("127.0.0.1", static_handler=lambda handler: handler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()
