"""Shared pieces of the security tests: the PostgreSQL requirement and HTTP sessions."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection
from django.test import Client
from django.test.testcases import LiveServerThread

from tests.support.env import require

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def postgresql(transactional_db: None) -> None:
    """Concurrent writers only mean something on PostgreSQL: SQLite serialises every write
    (IMMEDIATE transactions), so a race cannot happen there. Skips elsewhere, fails in CI."""
    require(
        connection.vendor == "postgresql",
        f"needs PostgreSQL (set DATABASE_URL=postgres://...); this run uses {connection.vendor}",
    )


class _WideServer(ThreadedWSGIServer):
    # Django's development server queues 10 connections; a burst of 50 at once would be
    # refused by the kernel before the application saw it (gunicorn's backlog is 2048).
    request_queue_size = 256


class _WideServerThread(LiveServerThread):
    server_class = _WideServer


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


def http_session(user: object, base_url: str, page: str) -> tuple[requests.Session, str]:
    """A requests session signed in as ``user`` and the CSRF token that ``page`` carries,
    as a browser has them after opening the page."""
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    response = session.get(base_url + page, timeout=30)
    response.raise_for_status()
    return session, CSRF_INPUT.findall(response.text)[-1]
