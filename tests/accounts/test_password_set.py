"""A new account's one-time set-password link: it names the account, and setting the password
logs its owner in."""

from __future__ import annotations

import pytest
from django.test import Client

from readerstudy.accounts.roles import Role
from readerstudy.accounts.services import password_set_path, user_create

NEW_PASSWORD = "lentigo-maligna-42"


@pytest.fixture
def new_reader(db: None):
    user, _ = user_create(
        username="dr_okafor",
        roles=[Role.READER],
        password="",
        first_name="Ada",
        last_name="Okafor",
    )
    return user


@pytest.mark.django_db
def test_setting_the_password_logs_the_reader_in_and_the_link_stops_working(new_reader) -> None:
    client = Client()
    link = password_set_path(new_reader)
    form_page = client.get(link, follow=True)
    assert "the account <strong" in form_page.content.decode()
    assert "dr_okafor</strong> (Ada Okafor)" in form_page.content.decode()
    response = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(new_reader.pk)
    home = client.get("/").content.decode()
    assert "you are logged in as dr_okafor" in home
    new_reader.refresh_from_db()
    assert new_reader.check_password(NEW_PASSWORD)
    assert "This link is no longer valid" in Client().get(link, follow=True).content.decode()


@pytest.mark.browser
def test_a_new_reader_follows_the_link_sees_the_account_and_lands_logged_in(
    page, new_reader
) -> None:
    page.goto(password_set_path(new_reader))
    page.get_by_role("heading", name="Choose a password").wait_for()
    assert page.locator("#account-name").inner_text() == "dr_okafor"
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Repeat the password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.get_by_role("heading", name="Welcome, Ada Okafor").wait_for()
    assert page.get_by_text("you are logged in as dr_okafor").is_visible()
    assert page.get_by_role("button", name="Log out").is_visible()
