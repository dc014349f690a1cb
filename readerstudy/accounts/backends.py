"""The authentication backend: Django's ModelBackend, loading a user's roles with the user.

Every signed-in request loads the user from the session, and nearly every view then asks for
the user's roles (auth groups). ModelBackend takes two queries for that; this backend takes
one, a left join of the user on their groups, and leaves the roles where ``user_roles`` looks
for them. On the grading hot path that is one database round trip fewer per request. Where the
roles cache (Redis) holds the user's roles, the query reads the user's row alone, written out
and prepared (core/rows.py): compiling the queryset cost more CPU than running it, on every
signed-in request.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.db.models import F

from readerstudy.accounts.roles import (
    roles_cache_entry,
    roles_cache_fill,
    roles_cached,
    roles_remember,
)
from readerstudy.core.rows import fetch_one, model_columns


class RoleModelBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        model = get_user_model()
        entry = roles_cache_entry(user_id)
        if entry is not None:
            user = _user_row(model, user_id)
            if user is None:
                return None
            if roles_cached(user, entry) is not None:
                return user if self.user_can_authenticate(user) else None
        # One row per group (one row with None for a user without groups).
        rows = list(
            model._default_manager.filter(pk=user_id).annotate(group_name=F("groups__name"))
        )
        if not rows:
            return None
        user = rows[0]
        roles = roles_remember(user, {row.group_name for row in rows if row.group_name is not None})
        roles_cache_fill(user, roles)
        return user if self.user_can_authenticate(user) else None


def _user_row(model: type[AbstractBaseUser], user_id: Any) -> Any:
    """The user with primary key ``user_id``, every field loaded, or None."""
    # django-stubs types get_user_model()'s class as unhashable; a class is hashable.
    columns = model_columns(model)  # type: ignore[arg-type]
    pk_column = connection.ops.quote_name(model._meta.pk.column)
    row = fetch_one(
        f"SELECT {columns.select('u')} FROM {columns.table} u WHERE u.{pk_column} = %s",  # noqa: S608
        [model._meta.pk.get_db_prep_value(user_id, connection)],
    )
    return None if row is None else columns.build(row)
