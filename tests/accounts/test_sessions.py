"""Sessions live in Redis where the platform has one: every web process sees a login, a logout
and a role change at once. Each "other web process" here is a separate Python process with the
same settings, the test database and the test's session cookie."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.test import Client

from readerstudy.accounts.roles import ROLES_CACHE, Role
from tests.support.env import REPO_ROOT, require
from tests.support.worker import worker_environment

# The other process asks for the reader's study list with the cookie and prints the status.
OTHER_PROCESS = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="localhost")
client.cookies[settings.SESSION_COOKIE_NAME] = sys.argv[1]
print(json.dumps({"status": client.get("/api/v1/reading/studies/").status_code}))
"""


def status_in_another_web_process(session_key: str) -> int:
    result = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, session_key],
        cwd=REPO_ROOT,
        env=worker_environment(DJANGO_SETTINGS_MODULE="readerstudy.settings"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout.strip().splitlines()[-1])["status"])


def require_redis_sessions() -> None:
    require(
        settings.SESSION_ENGINE == "django.contrib.sessions.backends.cache",
        "sessions are in Redis only where Redis runs; this run uses " + settings.SESSION_ENGINE,
    )


def test_sessions_stay_in_the_database_without_redis(settings) -> None:
    if settings.READERSTUDY_CACHE_URL:
        assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cache"
        assert settings.CACHES[settings.SESSION_CACHE_ALIAS]["LOCATION"] == (
            settings.READERSTUDY_CACHE_URL
        )
    else:
        assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"


@pytest.mark.django_db(transaction=True)
def test_a_logged_out_session_is_dead_in_every_web_process(reader_a, password) -> None:
    require_redis_sessions()
    client = Client()
    client.post("/accounts/login/", {"username": "reader_a", "password": password})
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert status_in_another_web_process(cookie) == 200
    client.post("/accounts/logout/")
    assert status_in_another_web_process(cookie) in (401, 403)


@pytest.mark.django_db(transaction=True)
def test_a_role_change_reaches_every_web_process(reader_a, password) -> None:
    require_redis_sessions()
    client = Client()
    client.post("/accounts/login/", {"username": "reader_a", "password": password})
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    # Both processes have read the reader's roles, and Redis holds them.
    assert status_in_another_web_process(cookie) == 200
    assert client.get("/api/v1/reading/studies/").status_code == 200
    assert caches[ROLES_CACHE].get(f"user:{reader_a.pk}") is not None
    reader = Group.objects.get(name=Role.READER.value)
    reader_a.groups.remove(reader)
    assert status_in_another_web_process(cookie) == 404
    assert client.get("/api/v1/reading/studies/").status_code == 404
    reader_a.groups.add(reader)
    assert status_in_another_web_process(cookie) == 200
    assert client.get("/api/v1/reading/studies/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_role_revoked_through_the_group_reaches_every_web_process(reader_a, password) -> None:
    """The admin's group page changes memberships from the group's side."""
    require_redis_sessions()
    client = Client()
    client.post("/accounts/login/", {"username": "reader_a", "password": password})
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert status_in_another_web_process(cookie) == 200
    reader = Group.objects.get(name=Role.READER.value)
    reader.user_set.clear()
    assert status_in_another_web_process(cookie) == 404
    reader.user_set.add(reader_a)
    assert status_in_another_web_process(cookie) == 200
    reader.user_set.remove(reader_a)
    assert status_in_another_web_process(cookie) == 404
