"""API permissions. The default is DenyAll: every API view states who may use it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission

from readerstudy.accounts.roles import Role, has_role

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views is half-loaded.
    from rest_framework.request import Request
    from rest_framework.views import APIView


class DenyAll(BasePermission):
    """The project-wide default: a view that names no permission is closed."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return False


class _HasRole(BasePermission):
    role: Role

    def has_permission(self, request: Request, view: APIView) -> bool:
        return has_role(request.user, self.role)


class IsCoordinator(_HasRole):
    role = Role.COORDINATOR


class IsReader(_HasRole):
    role = Role.READER


class IsAnalyst(_HasRole):
    role = Role.ANALYST
