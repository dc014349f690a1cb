"""The authentication backend loads a user's roles with the user, in one query."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from readerstudy.accounts.backends import RoleModelBackend
from readerstudy.accounts.roles import Role, user_roles
from tests.factories import UserFactory


@pytest.mark.django_db
def test_the_user_and_all_their_roles_come_in_one_query() -> None:
    user = UserFactory(username="both", roles=[Role.READER, Role.ANALYST])
    with CaptureQueriesContext(connection) as queries:
        loaded = RoleModelBackend().get_user(user.pk)
        roles = user_roles(loaded)
    assert loaded == user
    assert roles == {Role.READER, Role.ANALYST}
    assert len(queries) == 1


@pytest.mark.django_db
def test_users_without_roles_unknown_ids_and_inactive_users() -> None:
    plain = UserFactory(username="plain", roles=[])
    inactive = UserFactory(username="gone", roles=[Role.READER], is_active=False)
    backend = RoleModelBackend()
    assert user_roles(backend.get_user(plain.pk)) == frozenset()
    assert backend.get_user(inactive.pk) is None
    assert backend.get_user(10**9) is None


@pytest.mark.django_db
def test_a_role_taken_away_is_gone_on_the_next_request(reader_a, reader_a_client: Client) -> None:
    assert reader_a_client.get("/api/v1/reading/studies/").status_code == 200
    reader_a.groups.remove(Group.objects.get(name=Role.READER.value))
    assert reader_a_client.get("/api/v1/reading/studies/").status_code == 404


@pytest.mark.django_db
def test_a_signed_in_request_loads_the_user_with_the_backend(reader_a_client: Client) -> None:
    assert reader_a_client.session[SESSION_KEY]
    with CaptureQueriesContext(connection) as queries:
        assert reader_a_client.get("/api/v1/reading/studies/").status_code == 200
    sql = [query["sql"] for query in queries]
    assert not any('FROM "auth_group"' in statement for statement in sql), sql
    assert sum('FROM "auth_user"' in statement for statement in sql) == 1, sql
