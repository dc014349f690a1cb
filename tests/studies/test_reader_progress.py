"""Each reader's progress on the study page and the API, and whom to remind."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from readerstudy.studies.models import Study
from readerstudy.studies.services import enrolment_create, study_status_set
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def answer(client: Client, study: Study, cases: int) -> None:
    """Answer ``cases`` cases through the reading API, as the grading page does."""
    for _ in range(cases):
        served = client.get(f"/api/v1/reading/studies/{study.pk}/next/").json()["case"]
        response = client.post(
            f"/api/v1/reading/studies/{study.pk}/decisions/",
            {"token": served["token"], "decision": "biopsy", "confidence": 70},
            content_type="application/json",
        )
        assert response.status_code in (200, 201), response.content


@pytest.fixture
def graded_study(make_study, reader_a, reader_b, reader_a_client) -> Study:
    # Progress, not profiles: readers go straight to their cases.
    study = make_study(name="Progress study", require_reader_profile=False)
    CaseFactory(study=study, diagnosis="mel")
    CaseFactory(study=study, diagnosis="nv")
    reader_b.email = "b@clinic.test"
    reader_b.save()
    enrolment_create(study=study, reader=reader_a)
    enrolment_create(study=study, reader=reader_b)
    study_status_set(study=study, status=Study.Status.OPEN)
    answer(reader_a_client, study, 2)
    reader_b_client = Client()
    reader_b_client.force_login(reader_b)
    answer(reader_b_client, study, 1)
    return study


def test_the_api_gives_every_readers_progress(graded_study, coordinator) -> None:
    client = APIClient()
    client.force_authenticate(coordinator)
    rows = client.get(f"/api/v1/studies/{graded_study.pk}/progress/").json()
    assert [
        (r["pseudonym"], r["reader"], r["answered"], r["total"], r["finished"]) for r in rows
    ] == [("R01", "reader_a", 2, 2, True), ("R02", "reader_b", 1, 2, False)]
    assert all(r["last_activity"] for r in rows)
    assert rows[1]["email"] == "b@clinic.test"


def test_the_study_page_shows_progress_and_whom_to_remind(graded_study, coordinator_client) -> None:
    page = coordinator_client.get(f"/studies/{graded_study.pk}/").content.decode()
    assert "2 of 2" in page and "1 of 2" in page
    reminder = page[page.index("To remind: 1 reader not finished") :]
    reminder = reminder[: reminder.index("</div>")]
    assert "reader_b &lt;b@clinic.test&gt;: 1 of 2" in reminder
    assert "reader_a" not in reminder
