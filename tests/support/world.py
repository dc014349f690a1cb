"""The security tests' world: two studies with every kind of object, and seven actors; and the
PostgreSQL requirement and HTTP sessions of the concurrency tests.

Study S is coordinated by ``coordinator`` and graded by ``reader_a``; study T belongs to
``other_coordinator`` and is graded by ``reader_b``. S has cases, reader A's decisions (and a
case served to A but not yet answered), CNN scores from the active model, an import job, a
saliency map; every path parameter of every route is filled from these.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
import pytest
import requests
from django.apps import apps
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test import Client
from django.test.testcases import LiveServerThread
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from PIL import Image

from readerstudy.accounts.roles import Role
from readerstudy.analysis.models import InsightStatus, SaliencyMap
from readerstudy.reading.models import ServedCase
from readerstudy.reading.services import decision_submit, next_case_serve
from readerstudy.scoring.models import ModelVersion
from readerstudy.scoring.saliency import TARGET_TOP
from readerstudy.scoring.selectors import model_version_active_get
from readerstudy.studies.models import Case, Enrolment, ImportJob, Study
from tests.factories import (
    CaseFactory,
    EnrolmentFactory,
    StudyFactory,
    UserFactory,
    cnn_scores_create,
)
from tests.security.routes import Route
from tests.support.session import logged_in

ANONYMOUS = "anonymous"


READER_A = "reader_a"


READER_B = "reader_b"


OTHER_COORDINATOR = "other_coordinator"


ANALYST = "analyst"


COORDINATOR = "coordinator"


ADMIN = "admin"


ACTORS = (ANONYMOUS, READER_A, READER_B, OTHER_COORDINATOR, ANALYST, COORDINATOR, ADMIN)


@dataclass
class World:
    users: dict[str, User]
    study: Study
    other_study: Study
    cases: list[Case]
    other_cases: list[Case]
    enrolment_a: Enrolment
    enrolment_b: Enrolment
    import_job: ImportJob
    model_version: ModelVersion
    answered_tokens: list[str]
    open_token: str
    new_account: User
    password_token: str  # of new_account's one-time set-password link

    def client(self, actor: str) -> Client:
        return Client() if actor == ANONYMOUS else logged_in(self.users[actor])

    def path_values(self, route: Route) -> dict[str, object]:
        """A real object for every path parameter of ``route`` (objects of study S)."""
        values: dict[str, object] = {}
        for name in route.parameters:
            values[name] = self._value(route, name)
        return values

    def _value(self, route: Route, name: str) -> object:
        case = self.cases[0]
        if route.namespace == "admin":
            return self._admin_value(route, name)
        simple = {
            "study_id": self.study.pk,
            "model_id": self.model_version.pk,
            "job_id": self.import_job.pk,
            "enrolment_id": self.enrolment_a.pk,
            "public_id": case.public_id,
            "variant": "display",
            "fmt": "csv",
            "uidb64": urlsafe_base64_encode(force_bytes(self.new_account.pk)),
            "token": self.password_token,
        }
        if name not in simple:
            pytest.fail(f"tests/security/conftest.py has no object for {name!r} of {route.key}")
        return simple[name]

    def _admin_value(self, route: Route, name: str) -> object:
        if route.key == "admin:view_on_site":
            study_type = ContentType.objects.get_for_model(Study)
            return {"content_type_id": study_type.pk, "object_id": self.study.pk}[name]
        if name == "app_label":
            return "studies"
        if name == "url":
            return "no-such-admin-page/"
        if name == "id":  # the admin's password form of a user
            return self.users[READER_A].pk
        if name == "object_id":  # admin/<app>/<model>/<object_id>/...
            _, app_label, model_name, *_ = route.pattern.split("/")
            first = apps.get_model(app_label, model_name).objects.order_by("pk").first()
            return first.pk if first is not None else 1
        pytest.fail(f"tests/security/conftest.py has no object for {name!r} of {route.key}")


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def build_world() -> World:
    users = {
        COORDINATOR: UserFactory(username="coordinator", roles=[Role.COORDINATOR]),
        OTHER_COORDINATOR: UserFactory(username="other_coordinator", roles=[Role.COORDINATOR]),
        READER_A: UserFactory(username="reader_a", roles=[Role.READER]),
        READER_B: UserFactory(username="reader_b", roles=[Role.READER]),
        ANALYST: UserFactory(username="analyst", roles=[Role.ANALYST]),
        ADMIN: UserFactory(username="admin", is_staff=True, is_superuser=True),
    }
    study = StudyFactory(name="Study S", created_by=users[COORDINATOR], allow_answer_changes=True)
    other_study = StudyFactory(name="Study T", created_by=users[OTHER_COORDINATOR])
    import_job = ImportJob.objects.create(
        study=study,
        source=ImportJob.Source.API,
        created_by=users[COORDINATOR],
        status=ImportJob.Status.SUCCEEDED,
        cases_created=4,
    )
    cases = [CaseFactory(study=study, position=n, import_job=import_job) for n in range(4)]
    other_cases = [CaseFactory(study=other_study, position=n) for n in range(2)]
    enrolment_a = EnrolmentFactory(study=study, reader=users[READER_A], pseudonym="R01")
    enrolment_b = EnrolmentFactory(study=other_study, reader=users[READER_B], pseudonym="R01")

    answered = []
    for decision in ("biopsy", "reassure"):
        serving = next_case_serve(enrolment=enrolment_a)
        assert serving.served is not None
        decision_submit(
            enrolment=enrolment_a, token=serving.served.token, decision=decision, confidence=60
        )
        answered.append(serving.served.token)
    open_serving = next_case_serve(enrolment=enrolment_a).served
    assert open_serving is not None
    next_case_serve(enrolment=enrolment_b)

    model_version = model_version_active_get(study.task)
    assert model_version is not None, "register_shipped_model runs after migrate"
    rng = np.random.default_rng(3)
    probabilities = rng.uniform(size=6)
    cnn_scores_create(cases + other_cases, model_version, probabilities, rng.normal(size=(6, 16)))
    SaliencyMap.objects.create(
        case=cases[0],
        model_version=model_version,
        target=TARGET_TOP,
        status=InsightStatus.READY,
        overlay=ContentFile(png_bytes(), name=f"saliency/{study.pk}/test-overlay.png"),
    )
    new_account = UserFactory(username="new_reader", roles=[Role.READER])
    new_account.set_unusable_password()
    new_account.save()
    world = World(
        users=users,
        study=study,
        other_study=other_study,
        cases=cases,
        other_cases=other_cases,
        enrolment_a=enrolment_a,
        enrolment_b=enrolment_b,
        import_job=import_job,
        model_version=model_version,
        answered_tokens=answered,
        open_token=open_serving.token,
        new_account=new_account,
        password_token=default_token_generator.make_token(new_account),
    )
    assert ServedCase.objects.filter(token=world.open_token, decision__isnull=True).exists()
    return world


CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class _WideServer(ThreadedWSGIServer):
    # Django's development server queues 10 connections; a burst of 50 at once would be
    # refused by the kernel before the application saw it (gunicorn's backlog is 2048).
    request_queue_size = 256


class _WideServerThread(LiveServerThread):
    server_class = _WideServer


def http_session(user: object, base_url: str, page: str) -> tuple[requests.Session, str]:
    """A requests session signed in as ``user`` and the CSRF token that ``page`` carries,
    as a browser has them after opening the page."""
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    response = session.get(base_url + page, timeout=30)
    response.raise_for_status()
    return session, CSRF_INPUT.findall(response.text)[-1]
