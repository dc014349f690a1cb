"""The three roles of a reader study, held as Django auth groups (created by a migration).

- Coordinator: creates studies, uploads image sets, enrols readers.
- Reader: a dermatologist who grades cases, blinded to the truth.
- Analyst: sees the CNN's ROC curve with every reader on it, and exports reports.

Superusers act as every role. A user may hold several roles, but reader-facing pages never
show anything that depends on the others.

Where Redis runs, a user's roles are kept there (the ``roles`` cache), so that a signed-in
request reads only the user's own row from the database. Every change of group membership
forgets the members' roles at once and again when it commits (``roles_forget``, called from the
signal handlers in apps.py), so the next request of every web process reads them afresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.core.cache import caches
from django.db import transaction

if TYPE_CHECKING:  # annotations only: apps.py imports Role before the models are loaded
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser


class Role(StrEnum):
    COORDINATOR = "Coordinator"
    READER = "Reader"
    ANALYST = "Analyst"


def user_roles(user: AbstractBaseUser | AnonymousUser) -> frozenset[Role]:
    """The roles the user holds; every role for a superuser, none for anonymous users."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if getattr(user, "is_superuser", False):
        return frozenset(Role)
    cached = getattr(user, "_readerstudy_roles", None)
    if cached is None:
        cached = roles_cached(user, roles_cache_entry(user.pk))
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        cached = roles_remember(user, names)
        roles_cache_fill(user, cached)
    return cached


def roles_remember(user: AbstractBaseUser, group_names: set[str]) -> frozenset[Role]:
    """Keep the roles of ``group_names`` on ``user`` for this request (see user_roles).

    The authentication backend calls this when it loads the user, so that the roles cost no
    query of their own."""
    roles = frozenset(role for role in Role if role.value in group_names)
    user._readerstudy_roles = roles  # type: ignore[attr-defined]
    return roles


# The settings' cache alias: Redis shared by every web process, or a dummy without Redis (a
# per-process cache could not be told that another process changed a user's groups).
ROLES_CACHE = "roles"


def _roles_key(user_pk: Any) -> str:
    return f"user:{user_pk}"


def _roles_owner(user: AbstractBaseUser) -> str:
    """Who the cached roles belong to beyond the id: a database that was recreated (a test run,
    a restored backup) reuses ids, and its users must not inherit cached roles."""
    return f"{user.get_username()}|{getattr(user, 'date_joined', '')}"


RolesEntry = tuple[str, list[str]]


def roles_cache_entry(user_pk: Any) -> RolesEntry | None:
    """What the roles cache holds for a user id (see roles_cached)."""
    return caches[ROLES_CACHE].get(_roles_key(user_pk))  # type: ignore[no-any-return]


def roles_cached(user: AbstractBaseUser, entry: RolesEntry | None) -> frozenset[Role] | None:
    """The user's roles in ``entry``, what ``roles_cache_entry`` read for the user's id (kept on
    ``user`` for this request), or None when it holds none of this user's."""
    if entry is None or entry[0] != _roles_owner(user):
        return None
    roles = frozenset(Role(value) for value in entry[1])
    user._readerstudy_roles = roles  # type: ignore[attr-defined]
    return roles


def roles_cache_fill(user: AbstractBaseUser, roles: frozenset[Role]) -> None:
    caches[ROLES_CACHE].set(
        _roles_key(user.pk), (_roles_owner(user), sorted(role.value for role in roles))
    )


def roles_forget(user_pks: Iterable[Any]) -> None:
    """Drop the cached roles of these users now, and again once the change commits: a request
    that read the old groups while the change was still open may have cached them meanwhile.
    (One that read them just before the commit and writes just after it keeps them until the
    cache's TIMEOUT: a few milliseconds' race bounded by minutes.)"""
    keys = [_roles_key(pk) for pk in user_pks]
    if not keys:
        return
    cache = caches[ROLES_CACHE]
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def has_role(user: AbstractBaseUser | AnonymousUser, role: Role) -> bool:
    return role in user_roles(user)


def has_any_role(user: AbstractBaseUser | AnonymousUser, roles: Iterable[Role]) -> bool:
    """Whether the user holds at least one of ``roles``: the one test behind every role gate
    of pages (``role_required``) and APIs (``any_role``)."""
    return not user_roles(user).isdisjoint(roles)
