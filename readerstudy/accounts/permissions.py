"""Role gates of pages and APIs, one rule for both: a signed-in user without the role gets
404, so neither a page nor the API confirms that a route or object exists to someone who may
not use it. Anonymous visitors are sent to log in (pages) or get 401 (APIs).

Pages use ``role_required(Role.X, ...)``; API views ``any_role(Role.X, ...)`` or its named
instances. The API default is DenyAll: every API view states who may use it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission

from readerstudy.accounts.roles import Role, has_any_role

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views is half-loaded.
    from rest_framework.request import Request
    from rest_framework.views import APIView


View = Callable[..., HttpResponse]


def role_required(*roles: Role) -> Callable[[View], View]:
    """A page for users holding at least one of ``roles``; anyone else signed in gets 404."""
    wanted = frozenset(roles)

    def decorate(view: View) -> View:
        @login_required
        @functools.wraps(view)
        def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not has_any_role(request.user, wanted):
                raise Http404("nothing here for this account")
            return view(request, *args, **kwargs)

        return gated

    return decorate


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
            if has_any_role(request.user, wanted):
                return True
            raise NotFound()

    HasRole.__name__ = HasRole.__qualname__ = "Is" + "Or".join(r.value for r in roles)
    return HasRole


IsCoordinator = any_role(Role.COORDINATOR)
IsReader = any_role(Role.READER)
IsAnalyst = any_role(Role.ANALYST)
IsCoordinatorOrAnalyst = any_role(Role.COORDINATOR, Role.ANALYST)
