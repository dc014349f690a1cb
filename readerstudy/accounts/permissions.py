"""API permissions. The default is DenyAll: every API view states who may use it.

A signed-in user without the role gets 404, as on the pages: the API does not confirm that a
route or object exists to someone who may not use it. Anonymous callers get 401.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission

from readerstudy.accounts.roles import Role, user_roles

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views is half-loaded.
    from rest_framework.request import Request
    from rest_framework.views import APIView


class DenyAll(BasePermission):
    """The project-wide default: a view that names no permission is closed."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return False


def any_role(*roles: Role) -> type[BasePermission]:
    """A permission for users holding at least one of ``roles``."""
    wanted = frozenset(roles)

    class HasRole(BasePermission):
        def has_permission(self, request: Request, view: APIView) -> bool:
            if not request.user or not request.user.is_authenticated:
                return False
            if wanted & user_roles(request.user):
                return True
            raise NotFound()

    HasRole.__name__ = HasRole.__qualname__ = "Is" + "Or".join(r.value for r in roles)
    return HasRole


IsCoordinator = any_role(Role.COORDINATOR)
IsReader = any_role(Role.READER)
IsAnalyst = any_role(Role.ANALYST)
IsCoordinatorOrAnalyst = any_role(Role.COORDINATOR, Role.ANALYST)
