"""The three roles of a reader study, held as Django auth groups (created by a migration).

- Coordinator: creates studies, uploads image sets, enrols readers.
- Reader: a dermatologist who grades cases, blinded to the truth.
- Analyst: sees the CNN's ROC curve with every reader on it, and exports reports.

Superusers act as every role. A user may hold several roles, but reader-facing pages never
show anything that depends on the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

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
        names = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        cached = roles_remember(user, names)
    return cached


def roles_remember(user: AbstractBaseUser, group_names: set[str]) -> frozenset[Role]:
    """Keep the roles of ``group_names`` on ``user`` for this request (see user_roles).

    The authentication backend calls this when it loads the user, so that the roles cost no
    query of their own."""
    roles = frozenset(role for role in Role if role.value in group_names)
    user._readerstudy_roles = roles  # type: ignore[attr-defined]
    return roles


def has_role(user: AbstractBaseUser | AnonymousUser, role: Role) -> bool:
    return role in user_roles(user)


def has_any_role(user: AbstractBaseUser | AnonymousUser, roles: Iterable[Role]) -> bool:
    """Whether the user holds at least one of ``roles``: the one test behind every role gate
    of pages (``role_required``) and APIs (``any_role``)."""
    return not user_roles(user).isdisjoint(roles)
