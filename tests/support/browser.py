"""Steps that browser tests share."""

from __future__ import annotations

from typing import Any

from tests.factories import PASSWORD


def browser_login(page: Any, username: str, password: str = PASSWORD) -> None:
    """Log in through the login page, as a person would."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def in_first_screen(page: Any, locator: Any) -> bool:
    """Whether ``locator`` is visible without scrolling."""
    box = locator.bounding_box()
    viewport = page.viewport_size
    return (
        box is not None
        and page.evaluate("window.scrollY") == 0
        and (box["y"] + box["height"] <= viewport["height"])
    )


def press_keys(page: Any, keys: str) -> None:
    """Press each space-separated key at once after the previous one, as a fast typist does."""
    for key in keys.split(" "):
        page.keyboard.press(key)
