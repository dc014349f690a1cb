"""The authentication backend loads a user's roles with the user, in one query, and where
Redis runs takes them from the roles cache."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from readerstudy.accounts.backends import RoleModelBackend
from readerstudy.accounts.roles import ROLES_CACHE, Role, user_roles
from tests.factories import UserFactory
from tests.support.env import require
from tests.support.sql import round_trips, statement_texts


def require_roles_cache() -> None:
    require(
        settings.CACHES[ROLES_CACHE]["BACKEND"].endswith("RedisCache"),
        "roles are cached only where Redis runs",
    )


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
    sql = statement_texts(queries)
    assert not any('FROM "auth_group"' in statement for statement in sql), sql
    assert sum('FROM "auth_user"' in statement for statement in sql) == 1, sql


@pytest.mark.django_db
def test_cached_roles_spare_the_group_tables(reader_a, reader_a_client: Client) -> None:
    require_roles_cache()
    caches[ROLES_CACHE].delete(f"user:{reader_a.pk}")
    with CaptureQueriesContext(connection) as first:
        assert reader_a_client.get("/api/v1/reading/studies/").status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert reader_a_client.get("/api/v1/reading/studies/").status_code == 200
    assert any('"auth_group"' in sql for sql in statement_texts(first))
    second_sql = statement_texts(second)
    assert not any('"auth_group"' in sql for sql in second_sql), second_sql
    assert any('"auth_user"' in sql for sql in second_sql), second_sql
    assert round_trips(second) == round_trips(first)


@pytest.mark.django_db
def test_every_change_of_membership_reaches_the_next_request(
    reader_a, reader_a_client: Client
) -> None:
    require_roles_cache()
    reader = Group.objects.get(name=Role.READER.value)
    analyst = Group.objects.get(name=Role.ANALYST.value)
    studies = "/api/v1/reading/studies/"
    assert reader_a_client.get(studies).status_code == 200
    reader_a.groups.clear()
    assert reader_a_client.get(studies).status_code == 404
    reader.user_set.add(reader_a)
    assert reader_a_client.get(studies).status_code == 200
    reader.user_set.remove(reader_a)
    assert reader_a_client.get(studies).status_code == 404
    reader_a.groups.set([reader, analyst])
    assert reader_a_client.get(studies).status_code == 200
    analyst.user_set.clear()
    assert reader_a_client.get("/api/v1/accounts/me/").json()["roles"] == ["Reader"]
    # A group renamed, and one deleted, take their role with them.
    reader.name = "Reader (retired)"
    reader.save()
    assert reader_a_client.get(studies).status_code == 404
    reader.name = Role.READER.value
    reader.save()
    assert reader_a_client.get(studies).status_code == 200
    reader.delete()
    assert reader_a_client.get(studies).status_code == 404


@pytest.mark.django_db
def test_roles_cached_for_a_user_id_of_another_database_are_not_taken(reader_a) -> None:
    """A recreated database (a test run, a restored backup) reuses user ids."""
    require_roles_cache()
    caches[ROLES_CACHE].set(f"user:{reader_a.pk}", ("reader_a|2001-01-01", ["Coordinator"]))
    loaded = RoleModelBackend().get_user(reader_a.pk)
    assert user_roles(loaded) == {Role.READER}


@pytest.mark.django_db
def test_the_cached_path_loads_the_whole_user_and_refuses_inactive_or_deleted_ones() -> None:
    """With the roles in Redis the user's row is read alone (written-out SQL): every field as
    the ORM loads it, and an inactive or deleted user is still nobody."""
    require_roles_cache()
    user = UserFactory(username="cached", roles=[Role.READER])
    backend = RoleModelBackend()
    backend.get_user(user.pk)  # fills the roles cache
    with CaptureQueriesContext(connection) as queries:
        loaded = backend.get_user(user.pk)
    assert not any('"auth_group"' in sql for sql in statement_texts(queries))
    for field in type(user)._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(user, field.attname), field.name
    assert user_roles(loaded) == {Role.READER}
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert backend.get_user(user.pk) is None
    user_id = user.pk
    user.delete()
    assert backend.get_user(user_id) is None
