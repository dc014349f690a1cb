"""Role gates are one rule (readerstudy.accounts.permissions): pages and APIs alike send the
anonymous to log in (401 for APIs) and answer 404 to a signed-in user without the role."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpResponse
from django.test import RequestFactory
from rest_framework.exceptions import NotFound

from readerstudy.accounts.permissions import any_role, role_required
from readerstudy.accounts.roles import Role
from tests.support.source import PACKAGE, own_role_gates

pytestmark = pytest.mark.django_db


def _gated_page(request):
    return HttpResponse("inside")


def test_a_page_gate_lets_in_any_of_its_roles_and_hides_itself_from_the_others(
    coordinator, analyst, reader_a
) -> None:
    page = role_required(Role.COORDINATOR, Role.ANALYST)(_gated_page)
    request = RequestFactory().get("/somewhere/")
    for user in (coordinator, analyst):
        request.user = user
        assert page(request).content == b"inside"
    request.user = reader_a
    with pytest.raises(Http404):
        page(request)
    request.user = AnonymousUser()
    assert page(request).status_code == 302  # to the login page


def test_an_api_gate_answers_as_the_page_gate(coordinator, reader_a) -> None:
    permission = any_role(Role.COORDINATOR)()
    request = RequestFactory().get("/api/somewhere/")
    request.user = coordinator
    assert permission.has_permission(request, view=None)
    request.user = reader_a
    with pytest.raises(NotFound):
        permission.has_permission(request, view=None)
    request.user = AnonymousUser()
    assert not permission.has_permission(request, view=None)  # 401


# Every package but accounts, which defines the gates.
@pytest.mark.parametrize(
    "package",
    sorted(
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists() and p.name != "accounts"
    ),
)
def test_views_and_apis_gate_roles_only_through_the_accounts_helpers(package) -> None:
    assert own_role_gates(PACKAGE / package) == [], "use role_required or any_role"
