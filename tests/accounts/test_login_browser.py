import pytest

from tests.factories import PASSWORD


@pytest.mark.browser
def test_a_user_logs_in_through_the_login_page_in_chromium(page, reader_a, artifacts) -> None:
    page.goto("/")
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill("reader_a")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    assert page.get_by_role("heading", name="Welcome, reader_a").is_visible()
    assert page.get_by_role("button", name="Log out").is_visible()
    page.screenshot(path=str(artifacts / "login-home.png"))
