"""Logging in: ten wrong passwords lock an account for 15 minutes, the session key changes at
login, and a logged-out session cookie opens nothing.

django-axes decides a lockout from the timestamps of the failed attempts it stored (failures
newer than AXES_COOLOFF_TIME count), so moving those timestamps back is moving its clock
forward: ``minutes_pass`` is the time travel of these tests.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import F
from django.test import Client

from readerstudy.accounts.roles import Role
from tests.factories import UserFactory

# The sessions the server keeps: in Redis where it runs, else in the database.
SessionStore = import_module(settings.SESSION_ENGINE).SessionStore

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


def log_in(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def minutes_pass(minutes: float) -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=minutes))


def test_the_lockout_is_ten_failures_for_fifteen_minutes_on_the_account() -> None:
    assert settings.AXES_FAILURE_LIMIT == 10
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    assert "username" in settings.AXES_LOCKOUT_PARAMETERS
    assert settings.AXES_RESET_ON_SUCCESS
    assert "axes.backends.AxesStandaloneBackend" == settings.AUTHENTICATION_BACKENDS[0]


def test_nine_wrong_passwords_do_not_lock_the_account(reader_a: User, password: str) -> None:
    client = Client()
    for _ in range(9):
        assert log_in(client, "reader_a", "wrong").status_code == 200
    response = log_in(client, "reader_a", password)
    assert response.status_code == 302 and signed_in_as(client) == str(reader_a.pk)


def test_ten_wrong_passwords_lock_the_account_for_fifteen_minutes(
    reader_a: User, password: str
) -> None:
    client = Client()
    for _ in range(9):
        assert log_in(client, "reader_a", "wrong").status_code == 200
    assert log_in(client, "reader_a", "wrong").status_code == 429  # the tenth locks

    # Locked: the right password is refused, and refused exactly like a wrong one.
    right = log_in(client, "reader_a", password)
    wrong = log_in(client, "reader_a", "still wrong")
    assert right.status_code == wrong.status_code == 429
    assert "accounts/locked.html" in [t.name for t in right.templates]
    assert "locked for 15 minutes" in right.content.decode()
    assert right.content == wrong.content
    assert signed_in_as(client) is None
    # From another address too: the lock is on the account.
    elsewhere = Client(REMOTE_ADDR="10.9.8.7")
    assert log_in(elsewhere, "reader_a", password).status_code == 429

    minutes_pass(14)
    assert log_in(Client(REMOTE_ADDR="10.9.8.6"), "reader_a", password).status_code == 429

    minutes_pass(15.1)  # every failure, the refused attempts above included, is now older
    later = Client()
    response = log_in(later, "reader_a", password)
    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in_as(later) == str(reader_a.pk)
    # The success reset the count: one more wrong password does not lock it again.
    assert log_in(Client(), "reader_a", "wrong").status_code == 200
    assert log_in(Client(), "reader_a", password).status_code == 302


def test_ten_failures_from_one_address_across_accounts_lock_that_address(password: str) -> None:
    for n in range(10):
        UserFactory(username=f"guess{n}", roles=[Role.READER])
    attacker = Client(REMOTE_ADDR="10.1.1.1")
    for n in range(9):
        assert log_in(attacker, f"guess{n}", "wrong").status_code == 200
    assert log_in(attacker, "guess9", "wrong").status_code == 429
    UserFactory(username="victim", roles=[Role.READER])
    assert log_in(attacker, "victim", password).status_code == 429
    assert log_in(Client(REMOTE_ADDR="10.1.1.2"), "victim", password).status_code == 302


def test_login_gives_a_new_session_key_and_forgets_the_old_one(
    reader_a: User, password: str
) -> None:
    # An attacker plants a session of their own in the victim's browser (session fixation).
    planted = SessionStore()
    planted["planted"] = True
    planted.save()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key

    assert log_in(client, "reader_a", password).status_code == 302

    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != planted.session_key
    assert not SessionStore().exists(planted.session_key)
    assert signed_in_as(client) == str(reader_a.pk)
    attacker = Client()
    attacker.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key
    assert attacker.get("/").status_code == 302


def test_a_logged_out_session_cookie_opens_no_page_and_no_api(
    reader_a: User, password: str
) -> None:
    client = Client()
    log_in(client, "reader_a", password)
    stolen = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert client.get("/reading/").status_code == 200

    assert client.post("/accounts/logout/").status_code == 302

    assert not SessionStore().exists(stolen)
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = stolen
    for page in ("/", "/reading/", "/accounts/api-token/"):
        response = replay.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith(LOGIN), page
    assert replay.get("/api/v1/reading/studies/").status_code in (401, 403)
    assert replay.get("/api/v1/schema/").status_code in (401, 403)


def test_the_locked_page_names_the_configured_lockout(reader_a: User, settings) -> None:
    settings.AXES_COOLOFF_TIME = timedelta(minutes=40)
    client = Client()
    for _ in range(10):
        log_in(client, "reader_a", "wrong")
    locked = log_in(client, "reader_a", "wrong")
    assert locked.status_code == 429
    assert "locked for 40 minutes" in locked.content.decode()
