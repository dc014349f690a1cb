"""Who is signed in (mounted at /api/v1/accounts/me/): the user's name and roles.

A front end asks it to learn which areas to offer; ``bench/grading.py`` uses it as the bare
authenticated request (session, user with roles, permission, JSON) that a decision's cost is
compared with.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from readerstudy.accounts.roles import Role, user_roles


class SignedInUserSerializer(serializers.Serializer):
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.ChoiceField(choices=[r.value for r in Role]))


class SignedInUserAPI(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="accounts_me",
        responses=SignedInUserSerializer,
        summary="The signed-in user and the roles they hold",
    )
    def get(self, request: Request) -> Response:
        roles = sorted(role.value for role in user_roles(request.user))
        return Response({"username": request.user.get_username(), "roles": roles})
