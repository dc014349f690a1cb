"""Shared actors and real-world fixtures: users in each role, a Chromium page, a worker."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client

from readerstudy.accounts.roles import Role
from tests.factories import PASSWORD, UserFactory
from tests.support.env import CHROMIUM, chromium_available, require
from tests.support.session import ARTIFACTS, CHROMIUM_ARGS, REFDATA, logged_in


def pytest_sessionstart(session: pytest.Session) -> None:
    # Media and broker spool of the test run start empty (the paths come from
    # tests/environment.py, never the demo's).
    for folder in (settings.MEDIA_ROOT, getattr(settings, "BROKER_SPOOL", None)):
        if folder and Path(folder).resolve().name.startswith("test-"):
            shutil.rmtree(folder, ignore_errors=True)
            Path(folder).mkdir(parents=True, exist_ok=True)
    if hasattr(settings, "BROKER_SPOOL"):
        from readerstudy.celery import _make_spool_folders

        _make_spool_folders()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: object) -> None:
    """The test database as a deployment has it: migrated, then the shipped model registered
    by the step that follows migrate."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        call_command("register_shipped_model", verbosity=0)


@pytest.fixture(autouse=True)
def no_memoised_analyses() -> None:
    """Each test starts without the analyses an earlier one memoised in this process: the
    memo's keys are made of ids, and ids repeat between tests once a flush resets them."""
    caches["default"].clear()


@pytest.fixture(autouse=True)
def shipped_model_after_flush(request: pytest.FixtureRequest) -> None:
    """A transactional test starts after the previous one flushed every table: register the
    shipped model again first, as a deployment's step after migrate would have."""
    marker = request.node.get_closest_marker("django_db")
    if not (
        "transactional_db" in request.fixturenames
        or "live_server" in request.fixturenames
        or (marker is not None and marker.kwargs.get("transaction"))
    ):
        return
    request.getfixturevalue("transactional_db")
    call_command("register_shipped_model", verbosity=0)


@pytest.fixture(scope="session")
def refdata() -> Path:
    """Public reference data with peer tools' results (pROC, RJafroc, Iowa), read in place."""
    if not REFDATA.is_dir():
        pytest.skip(f"reference data not found at {REFDATA} (../shared beside the repository)")
    return REFDATA


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def coordinator(db: None) -> User:
    return UserFactory(username="coordinator", roles=[Role.COORDINATOR])


@pytest.fixture
def other_coordinator(db: None) -> User:
    return UserFactory(username="other_coordinator", roles=[Role.COORDINATOR])


@pytest.fixture
def reader_a(db: None) -> User:
    return UserFactory(username="reader_a", roles=[Role.READER])


@pytest.fixture
def reader_b(db: None) -> User:
    return UserFactory(username="reader_b", roles=[Role.READER])


@pytest.fixture
def analyst(db: None) -> User:
    return UserFactory(username="analyst", roles=[Role.ANALYST])


@pytest.fixture
def coordinator_client(coordinator: User) -> Client:
    return logged_in(coordinator)


@pytest.fixture
def reader_a_client(reader_a: User) -> Client:
    return logged_in(reader_a)


@pytest.fixture
def reader_b_client(reader_b: User) -> Client:
    return logged_in(reader_b)


@pytest.fixture
def analyst_client(analyst: User) -> Client:
    return logged_in(analyst)


@pytest.fixture
def artifacts() -> Path:
    """Screenshots and logs that CI keeps (test-artifacts/)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    require(chromium_available(), f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, live_server: object) -> Iterator[object]:
    """A fresh browser tab on the live server; fails the test on console errors
    (which include Content-Security-Policy violations) and uncaught exceptions."""
    context = browser.new_context(  # type: ignore[attr-defined]
        base_url=live_server.url,
        viewport={"width": 1280, "height": 900},  # type: ignore[attr-defined]
    )
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.problems = problems
    yield tab
    context.close()
    assert not problems, f"browser console errors: {problems}"


@pytest.fixture
def worker_log_dir(tmp_path: Path) -> Path:
    return tmp_path
