"""Reading through the API as a reader: enrol, take the next case, submit an answer."""

from __future__ import annotations

from django.test import Client

from readerstudy.studies.models import Enrolment, Study
from tests.factories import CaseFactory, EnrolmentFactory, StudyFactory


def enrol(study: Study, user: object, **fields: object) -> Enrolment:
    return EnrolmentFactory(study=study, reader=user, **fields)


def synthetic_study(n_cases: int, **fields: object) -> Study:
    """A study of small synthetic cases, for tests about order and counts, not pixels."""
    study = StudyFactory(**fields)
    for position in range(n_cases):
        CaseFactory(study=study, position=position)
    return study


def next_case(client: Client, study: Study) -> dict:
    response = client.get(f"/api/v1/reading/studies/{study.pk}/next/")
    assert response.status_code == 200, response.content
    return response.json()


def submit(
    client: Client,
    study: Study,
    token: str,
    decision: str = "biopsy",
    confidence: int = 70,
    **extra: object,
):
    return client.post(
        f"/api/v1/reading/studies/{study.pk}/decisions/",
        {"token": token, "decision": decision, "confidence": confidence, **extra},
        content_type="application/json",
    )
