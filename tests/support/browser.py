"""Steps the Chromium tests share."""

from __future__ import annotations

from typing import Any


def sign_in(page: Any, username: str, password: str) -> None:
    """Log in through the login form, as a person would."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
