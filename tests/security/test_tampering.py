"""Readers cannot touch other readers' decisions, nor anyone's truth.

Reader B, enrolled in reader A's study as well as in another, sends every write method to
every route of the resolver with A's ids (A's one-time tokens, answered and open, A's
decisions, enrolment, cases) in the body and the query string, as JSON and as a form. Then
every reader sends truth fields (diagnosis, biopsy flags, labels) to every route. A checksum
of the decisions, cases, enrolments and A's servings must not change, and every answer
must be a refusal (400, 403, 404, 405, or the login page of the admin site).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pytest
from django.db.models import Model, QuerySet
from django.test import Client

from readerstudy.reading.models import Decision, ServedCase
from readerstudy.studies.models import Case, Enrolment
from tests.security.routes import Route, routes
from tests.support.world import READER_A, READER_B, World

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
REFUSALS = frozenset({400, 403, 404, 405})
# Routes about the caller's own account (sign in and out, their API token, a one-time
# password link): they never reach decisions or cases, which the checksum still proves.
OWN_ACCOUNT = frozenset(
    {
        "accounts:login",
        "accounts:logout",
        "accounts:api_token",
        "accounts:password_set",
        "accounts:password_set_done",
        "admin:login",
        "admin:logout",
    }
)


def rows(queryset: QuerySet) -> list[tuple]:
    model: type[Model] = queryset.model
    fields = [field.attname for field in model._meta.concrete_fields]
    return [tuple(str(v) for v in row) for row in queryset.order_by("pk").values_list(*fields)]


def checksum(world: World) -> str:
    state = {
        "decisions": rows(Decision.objects.all()),
        "cases": rows(Case.objects.all()),
        "enrolments": rows(Enrolment.objects.all()),
        "servings_of_a": rows(ServedCase.objects.filter(enrolment=world.enrolment_a)),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def a_answered_case(world: World) -> Case:
    return Decision.objects.filter(enrolment=world.enrolment_a).first().case


def attack_payloads(world: World) -> list[dict[str, object]]:
    """A's ids in every field name a decision endpoint might read."""
    decision = Decision.objects.filter(enrolment=world.enrolment_a).first()
    common = {
        "decision": "reassure",
        "confidence": 1,
        "active_ms": 5,
        "revision": 9,
        "case": str(decision.case.public_id),
        "case_id": decision.case_id,
        "decision_id": decision.pk,
        "id": decision.pk,
        "pk": decision.pk,
        "enrolment": world.enrolment_a.pk,
        "enrolment_id": world.enrolment_a.pk,
        "reader": world.users[READER_A].pk,
        "before": str(decision.case.public_id),
    }
    return [{**common, "token": token} for token in [world.open_token, *world.answered_tokens]]


def truth_payload(world: World) -> dict[str, object]:
    case = a_answered_case(world)
    return {
        "case": str(case.public_id),
        "public_id": str(case.public_id),
        "id": case.pk,
        "diagnosis": "nv" if case.diagnosis == "mel" else "mel",
        "diagnosis_label": "tampered",
        "truth": not case.truth,
        "biopsy_proven": not case.biopsy_proven,
        "confirmation": "tampered",
        "source_id": "tampered",
        "lesion_id": "tampered",
        "position": 99,
    }


def url_with_ids(route: Route, world: World, query: dict[str, object]) -> str:
    values = world.path_values(route)
    if "public_id" in values:
        values["public_id"] = a_answered_case(world).public_id
    return route.url(values) + "?" + urlencode(query)


def sends(
    client: Client, url: str, payload: dict[str, object], *, api: bool
) -> Iterator[tuple[str, object]]:
    """Every write method with ``payload`` in the encodings the route reads: JSON and a form
    for the API, a form for pages."""
    form = {k: str(v) for k, v in payload.items()}
    if api:
        as_json = json.dumps(payload)
        for method in WRITE_METHODS:
            yield method, client.generic(method, url, as_json, content_type="application/json")
        yield "POST form", client.post(url, form)
        return
    yield "POST form", client.post(url, form)
    encoded = urlencode(form)
    for method in WRITE_METHODS[1:]:
        yield (
            f"{method} form",
            client.generic(method, url, encoded, content_type="application/x-www-form-urlencoded"),
        )


def refused(route: Route, url: str, response, *, form_redisplay: bool) -> bool:
    status = response.status_code
    if status in REFUSALS:
        return True
    location = urlsplit(response.get("Location", "")).path
    if status == 302 and route.namespace == "admin":
        return location == "/admin/login/"
    if status == 302 and route.key == "reading:consent":
        # A study with nothing to agree to (or a reader who already agreed) sends the reader on
        # to grading without writing anything; the checksum proves it.
        return location == urlsplit(url).path.removesuffix("consent/")
    # A page form that failed validation shows itself again (post/redirect/get); so does one
    # that succeeded, which is why the checksum decides.
    return form_redisplay and status == 302 and location == urlsplit(url).path


def sweep(
    world: World, actor: str, payloads: list[dict[str, object]], *, form_redisplay: bool = False
) -> list[str]:
    problems = []
    client = world.client(actor)
    for route in routes():
        for payload in payloads:
            url = url_with_ids(
                route, world, {k: payload[k] for k in ("token", "before", "case") if k in payload}
            )
            for method, response in sends(client, url, payload, api=route.is_api):
                if response.streaming:
                    b"".join(response.streaming_content)
                if response.status_code >= 500 or (
                    route.key not in OWN_ACCOUNT
                    and not refused(route, url, response, form_redisplay=form_redisplay)
                ):
                    problems.append(
                        f"{method} {url} [{route.key}] as {actor}: {response.status_code}"
                    )
            if route.key.endswith("logout"):
                client = world.client(actor)
    return problems


@pytest.fixture
def b_in_both_studies(world: World) -> World:
    """Reader B is also enrolled in A's study: every check on the study itself passes for B."""
    Enrolment.objects.create(study=world.study, reader=world.users[READER_B], pseudonym="R02")
    return world


def test_reader_b_cannot_change_or_delete_reader_a_decisions_anywhere(
    b_in_both_studies: World,
) -> None:
    world = b_in_both_studies
    before = checksum(world)

    problems = sweep(world, READER_B, attack_payloads(world))

    assert not problems, "writes with reader A's ids were not refused:\n" + "\n".join(problems)
    assert checksum(world) == before
    assert not Decision.objects.filter(served__token=world.open_token).exists()
    assert not Decision.objects.filter(enrolment__reader=world.users[READER_B]).exists()


def test_reader_b_cannot_read_reader_a_decisions_or_tokens(b_in_both_studies: World) -> None:
    world = b_in_both_studies
    reader_b = world.client(READER_B)
    study = world.study.pk
    case = a_answered_case(world).public_id
    a_tokens = [world.open_token, *world.answered_tokens]
    for route in routes():
        # Only A's case in the query string: a page that echoes its own URL (a login
        # form's "next") would otherwise "leak" what this test put there.
        url = url_with_ids(route, world, {"before": case})
        response = reader_b.get(url)
        data = b"".join(response.streaming_content) if response.streaming else response.content
        for token in a_tokens:
            assert token.encode() not in data, f"reader A's token in {url}"
    # B's own view of the study knows nothing of A's answers.
    assert reader_b.get(f"/api/v1/reading/studies/{study}/progress/").json()["done"] == 0
    assert reader_b.get(f"/api/v1/reading/studies/{study}/previous/?before={case}").status_code == (
        404
    )
    assert reader_b.get(f"/reading/studies/{study}/back/?before={case}").status_code == 302
    served = reader_b.get(f"/api/v1/reading/studies/{study}/next/").json()
    assert served["progress"]["done"] == 0 and served["case"]["current_answer"] is None


@pytest.mark.parametrize("actor", [READER_A, READER_B])
def test_no_reader_sets_truth_fields_through_any_writable_endpoint(
    b_in_both_studies: World, actor: str
) -> None:
    world = b_in_both_studies
    before = checksum(world)

    # Reader A's own grading form answers a submit without a token by showing itself again.
    problems = sweep(world, actor, [truth_payload(world)], form_redisplay=True)

    assert not problems, "truth fields were not refused:\n" + "\n".join(problems)
    assert checksum(world) == before


def test_truth_fields_sent_with_a_real_answer_are_ignored(world: World) -> None:
    reader_a = world.client(READER_A)
    study = world.study.pk
    cases_before = rows(Case.objects.all())
    decisions_before = Decision.objects.count()
    extra = {
        **truth_payload(world),
        "revision": 9,
        "enrolment": world.enrolment_b.pk,
        "served_at": "2001-01-01T00:00:00Z",
    }

    served = reader_a.get(f"/api/v1/reading/studies/{study}/next/").json()["case"]
    response = reader_a.post(
        f"/api/v1/reading/studies/{study}/decisions/",
        {**extra, "token": served["token"], "decision": "biopsy", "confidence": 80},
        content_type="application/json",
    )
    assert response.status_code == 201
    served = reader_a.get(f"/api/v1/reading/studies/{study}/next/").json()["case"]
    page = reader_a.post(
        f"/reading/studies/{study}/",
        {
            **{k: str(v) for k, v in extra.items()},
            "token": served["token"],
            "decision": "reassure",
            "confidence": "20",
        },
    )
    assert page.status_code == 302

    assert rows(Case.objects.all()) == cases_before
    stored = list(Decision.objects.order_by("-pk")[:2])
    assert Decision.objects.count() == decisions_before + 2
    assert {d.enrolment_id for d in stored} == {world.enrolment_a.pk}
    assert {(d.decision, d.confidence, d.revision) for d in stored} == {
        ("biopsy", 80, 1),
        ("reassure", 20, 1),
    }
    assert all(d.served_at.year > 2001 for d in stored)
