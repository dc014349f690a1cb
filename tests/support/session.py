"""The test session's places (artifacts, reference data), Chromium's flags, and Django clients
logged in as an actor."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client

from tests.support.env import REPO_ROOT

ARTIFACTS = REPO_ROOT / "test-artifacts"


REFDATA = REPO_ROOT.parent / "shared" / "refdata"


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
