from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.authtoken.models import Token

from readerstudy.accounts.roles import Role, has_role
from readerstudy.accounts.services import api_token_regenerate, user_create


@pytest.mark.django_db
def test_the_migration_creates_exactly_the_three_role_groups() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "Coordinator",
        "Reader",
        "Analyst",
    }
    assert [r.value for r in Role] == ["Coordinator", "Reader", "Analyst"]


@pytest.mark.django_db
def test_user_create_gives_roles_and_a_one_time_initial_password() -> None:
    user, initial = user_create(username="derm1", roles=[Role.READER])
    assert initial and user.check_password(initial)
    assert has_role(user, Role.READER) and not has_role(user, Role.ANALYST)
    locked, none = user_create(username="derm2", roles=[Role.READER], password="")
    assert none is None and not locked.has_usable_password()


@pytest.mark.django_db
def test_login_rotates_the_session_key(reader_a, password) -> None:
    client = Client()
    client.get("/accounts/login/")
    client.session.save()
    before = client.session.session_key
    response = client.post("/accounts/login/", {"username": "reader_a", "password": password})
    assert response.status_code == 302
    assert client.session.session_key != before
    assert client.session["_auth_user_id"] == str(reader_a.pk)


@pytest.mark.django_db
def test_a_logged_out_session_cookie_is_refused(reader_a, password) -> None:
    client = Client()
    client.post("/accounts/login/", {"username": "reader_a", "password": password})
    stolen = client.cookies["sessionid"].value
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    replay = Client()
    replay.cookies["sessionid"] = stolen
    response = replay.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_ten_bad_passwords_lock_the_account_even_for_the_right_password(reader_a, password) -> None:
    client = Client()
    for _ in range(10):
        client.post("/accounts/login/", {"username": "reader_a", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "reader_a", "password": password})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # From another address the account stays locked: the lock is on the account.
    other = Client(REMOTE_ADDR="10.9.8.7")
    response = other.post("/accounts/login/", {"username": "reader_a", "password": password})
    assert response.status_code == 429


@pytest.mark.django_db
def test_the_api_schema_needs_a_login_and_accepts_a_token(reader_a) -> None:
    assert Client().get("/api/v1/schema/").status_code == 401
    token = api_token_regenerate(user=reader_a)
    response = Client().get("/api/v1/schema/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert b"openapi" in response.content


@pytest.mark.django_db
def test_a_replaced_api_token_stops_working(reader_a) -> None:
    old = api_token_regenerate(user=reader_a).key
    new = api_token_regenerate(user=reader_a).key
    assert old != new and Token.objects.filter(user=reader_a).count() == 1
    response = Client().get("/api/v1/schema/", HTTP_AUTHORIZATION=f"Token {old}")
    assert response.status_code == 401


def test_api_views_without_permissions_deny_everyone() -> None:
    from rest_framework.settings import api_settings

    from readerstudy.accounts.permissions import DenyAll

    assert api_settings.DEFAULT_PERMISSION_CLASSES == [DenyAll]


@pytest.mark.django_db
def test_role_permissions_answer_404_to_users_without_the_role_and_401_to_anonymous(
    reader_a,
) -> None:
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    from readerstudy.accounts.permissions import IsCoordinatorOrAnalyst

    class Probe(APIView):
        permission_classes = [IsCoordinatorOrAnalyst]

        def get(self, request):
            from rest_framework.response import Response

            return Response({"ok": True})

    factory = APIRequestFactory()
    assert Probe.as_view()(factory.get("/probe")).status_code == 401
    request = factory.get("/probe")
    from rest_framework.test import force_authenticate

    force_authenticate(request, user=reader_a)
    assert Probe.as_view()(request).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_role_groups_survive_a_database_flush() -> None:
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


@pytest.mark.django_db
def test_the_api_says_who_is_signed_in_and_their_roles(reader_a, client) -> None:
    assert client.get("/api/v1/accounts/me/").status_code in (401, 403)
    client.force_login(reader_a)
    response = client.get("/api/v1/accounts/me/")
    assert response.status_code == 200
    assert response.json() == {"username": "reader_a", "roles": [Role.READER.value]}
