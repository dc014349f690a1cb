"""The API reference page runs under the site's strict Content-Security-Policy: Swagger UI
draws every route, and Chromium reports no refused inline style or script (the page fixture
fails a test on any console error, CSP violations included)."""

from __future__ import annotations

import pytest

from tests.support.browser import browser_login


@pytest.mark.browser
def test_the_api_reference_draws_every_group_with_no_csp_violation(page, analyst) -> None:
    violations: list[str] = []
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('CSP ' + e.violatedDirective + ' ' + e.sourceFile))"
    )
    page.on("console", lambda m: violations.append(m.text) if m.text.startswith("CSP") else None)
    browser_login(page, "analyst")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API").click()
    for group in ("accounts", "analysis", "reading", "scoring", "studies"):
        page.locator(f"#operations-tag-{group}").wait_for()
    assert page.locator(".opblock").count() > 20
    assert violations == []
