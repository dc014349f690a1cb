"""The REST API against its own OpenAPI schema: requests that schemathesis generates from the
schema, sent through the WSGI application as a reader, a coordinator and an analyst, never
get a server error and are answered as the schema says."""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from readerstudy.studies.models import ImportJob
from readerstudy.studies.services import import_staging_dir
from readerstudy.wsgi import application
from tests.factories import CaseFactory, EnrolmentFactory, StudyFactory

ROLES = ("reader", "coordinator", "analyst")
# The objects every path id names: fixed keys, so that the schema (loaded when the tests are
# collected, before any database exists) can send them.
STUDY_ID, JOB_ID, MODEL_ID = 7001, 7002, 7003


def served_schema() -> dict:
    """The OpenAPI document that /api/v1/schema/ serves (drf-spectacular's generator)."""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


schema = schemathesis.openapi.from_dict(
    served_schema(),
    config=SchemathesisConfig.from_dict(
        {
            "parameters": {
                "path.study_id": STUDY_ID,
                "path.job_id": JOB_ID,
                "path.model_id": MODEL_ID,
            }
        }
    ),
)
# Requests go through the WSGI application itself (as gunicorn calls it), checks that send
# requests of their own included.
schema.app = application


@pytest.fixture
def tokens(reader_a, coordinator, analyst) -> dict[str, str]:
    return {
        role: Token.objects.create(user=user).key
        for role, user in zip(ROLES, (reader_a, coordinator, analyst), strict=True)
    }


@pytest.fixture
def wsgi_in_test_transaction() -> None:
    """The WSGI handler closes the database connection after each request, which would end
    the test's transaction; Django's test client keeps it open the same way."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def api_world(db, wsgi_in_test_transaction, reader_a, coordinator) -> None:
    """An open study graded by the reader and coordinated by the coordinator, with cases and
    an import job, under the ids the schema sends."""
    study = StudyFactory(pk=STUDY_ID, created_by=coordinator, status="open")
    for position in range(4):
        CaseFactory(study=study, position=position)
    EnrolmentFactory(study=study, reader=reader_a)
    ImportJob.objects.create(pk=JOB_ID, study=study, source="cli", status="succeeded")
    yield
    # An upload that passed is staged for a worker that never comes in this test.
    for staged in ImportJob.objects.exclude(pk=JOB_ID):
        shutil.rmtree(import_staging_dir(staged), ignore_errors=True)


# Three checks test a contract this API does not make. A user without the role gets 404 on
# every route, whatever the method (so nothing tells that the route exists), where
# unsupported_method expects 405. positive_data_acceptance counts a request refused by a rule
# no schema can state (an unknown reader, a file that is no checkpoint, a setting locked once
# the study is open) as wrongly rejected. negative_data_rejection counts DRF's reading of 0/1
# and "true"/"false" as booleans (how forms send them) as accepting a wrong type; the cases
# where leniency misled a client (a bad limit or offset read as page one, identities=null read
# as false) now answer 400.
NOT_OUR_CONTRACT = [
    checks.unsupported_method,
    checks.positive_data_acceptance,
    checks.negative_data_rejection,
]


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_role_gets_no_server_error_and_answers_that_match_the_schema(
    case, api_world, tokens
) -> None:
    for role in ROLES:
        case.call_and_validate(
            headers={"Authorization": f"Token {tokens[role]}"}, excluded_checks=NOT_OUR_CONTRACT
        )
