"""The access matrix: every route of the URL resolver, five methods, seven actors.

Routes come from the resolver (``tests/security/routes.py``), so a new route is requested by
this test the day it is added, and fails it until EXPECTATIONS says who may use it. Path
parameters are filled with real objects of study S (see ``conftest.py``). For each actor and
method the response must be:

- allowed by the table: access granted (a GET answers below 400; other methods may fail
  validation with 400 but are never refused with 401, 403, 405 or a login redirect);
- otherwise never 2xx. A signed-in user gets 404, exactly as for an object that does not
  exist (or 405 for a method no one may use there), never 403. Anonymous callers are sent
  to the login page (pages), get 401/403 (API), or 404 (images: an image URL never leads
  anywhere for someone who may not see it). The admin site sends everyone but superusers
  to its own login page.

Nothing may answer 5xx.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.http import HttpResponse
from django.test import Client

from tests.security.routes import Route, routes
from tests.support.world import (
    ACTORS,
    ADMIN,
    ANALYST,
    ANONYMOUS,
    COORDINATOR,
    OTHER_COORDINATOR,
    READER_A,
    READER_B,
    World,
)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

EVERYONE = frozenset(ACTORS)
SIGNED_IN = EVERYONE - {ANONYMOUS}
# The superuser acts in every role, but coordinates no study and is enrolled in none.
COORDINATORS = frozenset({COORDINATOR, OTHER_COORDINATOR, ADMIN})
READERS = frozenset({READER_A, READER_B, ADMIN})
STAFF = frozenset({COORDINATOR, OTHER_COORDINATOR, ANALYST, ADMIN})
S_COORDINATOR = frozenset({COORDINATOR})
S_STAFF = frozenset({COORDINATOR, ANALYST, ADMIN})  # studies.access.study_for_staff_get
S_CHANGE = frozenset({COORDINATOR, ADMIN})
S_READER = frozenset({READER_A})

PAGE, API, MEDIA, PUBLIC, ADMIN_SITE = "page", "api", "media", "public", "admin"


@dataclass(frozen=True)
class Expect:
    """Who may use a route with which method; everyone else is refused as ``kind`` says."""

    kind: str
    access: Mapping[str, frozenset[str]]

    @property
    def methods(self) -> frozenset[str]:
        return frozenset(self.access)

    def allows(self, actor: str, method: str) -> bool:
        return actor in self.access.get(method, frozenset())


def page(**access: Iterable[str]) -> Expect:
    return Expect(PAGE, {m: frozenset(a) for m, a in access.items()})


def api(**access: Iterable[str]) -> Expect:
    return Expect(API, {m: frozenset(a) for m, a in access.items()})


def media(**access: Iterable[str]) -> Expect:
    return Expect(MEDIA, {m: frozenset(a) for m, a in access.items()})


def public(*methods: str) -> Expect:
    return Expect(PUBLIC, dict.fromkeys(methods, EVERYONE))


EXPECTATIONS: dict[str, Expect] = {
    "home": page(GET=SIGNED_IN),
    "healthz": public("GET"),
    # Django's login views are FormViews, which answer PUT like POST; Django never parses a
    # PUT body into request.POST, so such a "login" can only show the form's errors.
    "accounts:login": public("GET", "POST", "PUT"),
    "accounts:logout": public("POST"),
    "accounts:api_token": page(GET=SIGNED_IN, POST=SIGNED_IN),
    # A one-time link is a capability: whoever holds it may choose that account's password.
    "accounts:password_set": public("GET", "POST"),
    "accounts:password_set_done": public("GET"),
    "studies:list": page(GET=COORDINATORS),
    "studies:create": page(GET=COORDINATORS, POST=COORDINATORS),
    "studies:detail": page(GET=S_COORDINATOR),
    "studies:settings": page(POST=S_COORDINATOR),
    "studies:status": page(POST=S_COORDINATOR),
    "studies:delete": page(POST=S_COORDINATOR),
    "studies:import_undo": page(POST=S_COORDINATOR),
    "studies:import_create": page(POST=S_COORDINATOR),
    "studies:import_detail": page(GET=S_COORDINATOR),
    "studies:import_status": page(GET=S_COORDINATOR),
    "studies:enrol": page(POST=S_COORDINATOR),
    "studies:reader_profile": page(GET=S_COORDINATOR, POST=S_COORDINATOR),
    "studies:case_image": media(GET=S_COORDINATOR),
    "reading:home": page(GET=READERS),
    "reading:grade": page(GET=S_READER, POST=S_READER),
    "reading:back": page(GET=S_READER),
    "reading:consent": page(GET=S_READER, POST=S_READER),
    "reading:profile": page(GET=S_READER, POST=S_READER),
    "reading:finished": page(GET=S_READER),
    "reading:image": media(GET=S_READER),
    "reading:image_full": media(GET=S_READER),
    "reading:image_thumbnail": media(GET=S_READER),
    # Study S shows no Grad-CAM maps and reads unaided: no one. Who may see a map in a study
    # that shows them is tests/reading/test_aided_saliency.py.
    "reading:saliency": media(GET=frozenset()),
    "scoring:study_progress": page(GET=S_STAFF),
    "scoring:study_score": page(POST=S_CHANGE),
    "scoring:study_retry_failed": page(POST=S_CHANGE),
    "scoring:study_algorithm": page(POST=S_STAFF),
    "scoring:study_import_scores": page(POST=S_CHANGE),
    "scoring:models": page(GET=STAFF, POST=COORDINATORS),
    "scoring:model_activate": page(POST=COORDINATORS),
    "analysis:studies": page(GET=STAFF),
    # Any coordinator or analyst may plan; the form offers only the studies they may see.
    "analysis:planning": page(GET=STAFF, POST=STAFF),
    "analysis:planning_export": page(POST=STAFF),
    "analysis:study": page(GET=S_STAFF),
    "analysis:study_data": page(GET=S_STAFF),
    "analysis:aided": page(GET=S_STAFF),
    # The world's study asks no diagnosis: its diagnosis analysis is a 404 for everyone (the
    # staff of a diagnosis study reach it: tests/analysis_pages/test_diagnosis.py).
    "analysis:diagnosis": page(GET=()),
    "analysis:export": page(GET=S_STAFF),
    "analysis:tsne_data": page(GET=S_STAFF),
    "analysis:errors": page(GET=S_STAFF),
    "analysis:case": page(GET=S_STAFF),
    "analysis:case_image": media(GET=S_STAFF),
    "analysis:saliency": media(GET=S_STAFF),
    "admin:login": public("GET", "POST", "PUT"),
    "admin:logout": public("POST"),
    "api:schema": api(GET=SIGNED_IN),
    "api:docs": api(GET=SIGNED_IN),
    "api:study-list": api(GET=COORDINATORS, POST=COORDINATORS),
    "api:study-detail": api(GET=S_COORDINATOR, PATCH=S_COORDINATOR, DELETE=S_COORDINATOR),
    "api:study-import-list": api(GET=S_COORDINATOR, POST=S_COORDINATOR),
    "api:study-import-detail": api(GET=S_COORDINATOR),
    "api:study-import-report": api(GET=S_COORDINATOR),
    "api:study-import-undo": api(POST=S_COORDINATOR),
    "api:study-case-list": api(GET=S_COORDINATOR),
    "api:study-confound-audit": api(GET=S_COORDINATOR),
    "api:study-enrolment-list": api(GET=S_COORDINATOR, POST=S_COORDINATOR),
    "api:study-reader-progress": api(GET=S_COORDINATOR),
    "api:reading-studies": api(GET=READERS),
    "api:reading-next": api(GET=S_READER),
    "api:reading-previous": api(GET=S_READER),
    "api:reading-decisions": api(POST=S_READER),
    "api:reading-progress": api(GET=S_READER),
    "api:reading-consent": api(GET=S_READER, POST=S_READER),
    "api:reading-profile": api(GET=S_READER, PUT=S_READER),
    "api:study-enrolment-profile": api(GET=S_COORDINATOR, PUT=S_COORDINATOR),
    "api:accounts-me": api(GET=SIGNED_IN),
    "api:scoring-models": api(GET=STAFF, POST=COORDINATORS),
    "api:scoring-model": api(GET=STAFF),
    "api:scoring-model-activate": api(POST=COORDINATORS),
    "api:scoring-study": api(GET=S_STAFF, POST=S_CHANGE),
    "api:scoring-study-scores": api(POST=S_CHANGE),
    "api:scoring-study-algorithm": api(GET=S_STAFF, POST=S_STAFF),
    "api:analysis-study-compare": api(GET=S_STAFF),
    "api:analysis-study-aided": api(GET=S_STAFF),
    "api:analysis-study-diagnosis": api(GET=()),
    "api:analysis-study": api(GET=S_STAFF),
    "api:analysis-study-export": api(GET=S_STAFF),
}
# Every other route of the admin site (one set per registered model, so not listed one by
# one): superusers only; Django's admin_view sends everyone else to the admin login page.
ADMIN_SITE_RULE = Expect(ADMIN_SITE, {m: frozenset({ADMIN}) for m in METHODS})


def expectation(route: Route) -> Expect | None:
    if route.key in EXPECTATIONS:
        return EXPECTATIONS[route.key]
    if route.namespace == "admin":
        return ADMIN_SITE_RULE
    return None


def send(client: Client, method: str, url: str, *, api: bool) -> HttpResponse:
    if method == "GET":
        response = client.get(url)
    elif api:
        response = client.generic(method, url, b"{}", content_type="application/json")
    elif method == "POST":
        response = client.post(url, {})
    else:
        response = client.generic(
            method, url, b"", content_type="application/x-www-form-urlencoded"
        )
    if response.streaming:  # read to the end, which closes the file (as a WSGI server does)
        b"".join(response.streaming_content)
    return response


def redirects_to(response: HttpResponse, login_path: str) -> bool:
    return response.status_code == 302 and urlsplit(response["Location"]).path == login_path


def verdict(route: Route, rule: Expect, actor: str, method: str, response: HttpResponse) -> str:
    """ "" when the response is what the table says, else what is wrong with it."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    to_login = redirects_to(response, "/accounts/login/") or redirects_to(response, "/admin/login/")
    if rule.allows(actor, method):
        if rule.kind == ADMIN_SITE:
            return ""  # the superuser gets whatever the admin answers (403 for "add" of logs)
        if method == "GET" and status >= 400:
            return f"allowed, but answered {status}"
        if status in (401, 403, 405) or (to_login and rule.kind != PUBLIC):
            return f"allowed, but refused with {status}"
        return ""
    if 200 <= status < 300:
        return f"unexpected {status}: not allowed by the table"
    if rule.kind == PUBLIC:
        return ""
    if status == 405 and method not in rule.methods:
        return ""  # no one may use this method here, so 405 tells nothing
    if rule.kind == ADMIN_SITE:
        return "" if redirects_to(response, "/admin/login/") else f"{status}, not the admin login"
    if actor == ANONYMOUS:
        if rule.kind == PAGE:
            return "" if redirects_to(response, "/accounts/login/") else f"{status}, not login"
        if rule.kind == API:
            return "" if status in (401, 403) else f"{status}, not 401/403"
        return "" if status == 404 else f"{status}, not 404"
    return "" if status == 404 else f"{status} for a signed-in user, not 404"


def unlisted(found: list[Route]) -> list[str]:
    return [f"{r.key} ({r.pattern})" for r in found if expectation(r) is None]


def test_every_route_in_the_resolver_is_in_the_expectation_table() -> None:
    found = routes()
    missing = unlisted(found)
    assert not missing, "routes missing from EXPECTATIONS in test_access_matrix.py: " + ", ".join(
        missing
    )
    stale = set(EXPECTATIONS) - {r.key for r in found}
    assert not stale, f"EXPECTATIONS names routes the resolver no longer has: {sorted(stale)}"
    # The admin rule covers the admin site only, never a route of the platform itself.
    assert all(r.namespace == "admin" for r in found if r.key not in EXPECTATIONS)


def test_a_new_route_without_an_expectation_is_named(settings) -> None:
    settings.ROOT_URLCONF = "tests.security.urls_with_a_new_route"
    assert unlisted(routes()) == ["new-report (reports/<int:study_id>/)"]


@pytest.mark.django_db
@pytest.mark.parametrize("actor", ACTORS)
def test_each_actor_reaches_exactly_what_the_table_allows(world: World, actor: str) -> None:
    problems: list[str] = []
    client = world.client(actor)
    requests = 0
    for route in routes():
        rule = expectation(route)
        assert rule is not None, route.key
        values = world.path_values(route)
        url = route.url(values)
        for method in METHODS:
            response = send(client, method, url, api=route.is_api)
            requests += 1
            problem = verdict(route, rule, actor, method, response)
            if problem:
                problems.append(f"{method} {url} [{route.key}] as {actor}: {problem}")
            elif (
                route.parameters
                and actor != ANONYMOUS
                and rule.kind not in (PUBLIC, ADMIN_SITE)
                and not rule.allows(actor, method)
            ):
                # Refused: exactly as if the object did not exist (no existence oracle).
                missing_url = route.missing_url(values)
                again = send(client, method, missing_url, api=route.is_api)
                if again.status_code != response.status_code:
                    problems.append(
                        f"{method} {url} [{route.key}] as {actor}: {response.status_code}, but "
                        f"{again.status_code} for a missing object ({missing_url})"
                    )
            if route.key.endswith("logout"):
                client = world.client(actor)  # logged out: sign in again
    assert requests >= 5 * len(EXPECTATIONS)
    assert not problems, f"{len(problems)} responses break the access table:\n" + "\n".join(
        problems
    )
