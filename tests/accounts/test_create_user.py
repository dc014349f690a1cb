"""``manage.py create_user``: the first coordinator and analyst without the admin site."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from readerstudy.accounts.roles import Role, has_role


def printed(pattern: str, out: str) -> str:
    match = re.search(pattern, out)
    assert match, out
    return match.group(1)


@pytest.mark.django_db
def test_create_user_makes_a_coordinator_who_can_log_in_with_the_printed_password(
    capsys,
) -> None:
    call_command("create_user", "ada", role=["coordinator"], email="ada@example.org")
    password = printed(r"initial password: (\S+)", capsys.readouterr().out)
    user = User.objects.get(username="ada")
    assert user.email == "ada@example.org"
    assert has_role(user, Role.COORDINATOR) and not has_role(user, Role.ANALYST)
    client = Client()
    response = client.post("/accounts/login/", {"username": "ada", "password": password})
    assert response.status_code == 302
    assert client.get("/studies/").status_code == 200


@pytest.mark.django_db
def test_create_user_with_link_prints_a_one_time_set_password_link(capsys) -> None:
    call_command("create_user", "ben", role=["analyst"], link=True, base_url="https://rs.test/")
    link = printed(r"set-password link: (\S+)", capsys.readouterr().out)
    user = User.objects.get(username="ben")
    assert has_role(user, Role.ANALYST) and not user.has_usable_password()
    assert link.startswith("https://rs.test/accounts/")
    response = Client().get(link.removeprefix("https://rs.test"), follow=True)
    assert response.status_code == 200
    assert b'name="new_password1"' in response.content


@pytest.mark.django_db
def test_create_user_refuses_an_existing_name_and_an_unknown_role(capsys) -> None:
    call_command("create_user", "cy", role=["reader"])
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_user", "cy", role=["coordinator"])
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("create_user", "dee", "--role", "admin")
    assert not User.objects.filter(username="dee").exists()
