"""Closing a study is asked once more and can be undone; readers see a closed study as closed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from readerstudy.studies.models import Study
from readerstudy.studies.services import enrolment_create, study_status_set
from readerstudy.studies.services.lifecycle import STATUS_STEPS
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_study(make_study, reader_a) -> Study:
    study = make_study(name="Status study")
    CaseFactory(study=study, diagnosis="mel")
    CaseFactory(study=study, diagnosis="nv")
    enrolment_create(study=study, reader=reader_a)
    return study_status_set(study=study, status=Study.Status.OPEN)


def test_closing_from_the_page_asks_for_confirmation_first(open_study, coordinator_client) -> None:
    url = f"/studies/{open_study.pk}/status/"
    asked = coordinator_client.post(url, {"status": "closed"})
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "Close “Status study”?" in page and "has answered 0 of 2 cases" in page
    open_study.refresh_from_db()
    assert open_study.status == Study.Status.OPEN
    coordinator_client.post(url, {"status": "closed", "confirmed": "yes"})
    open_study.refresh_from_db()
    assert open_study.status == Study.Status.CLOSED


def test_a_closed_study_can_be_reopened_and_readers_grade_again(
    open_study, coordinator_client, reader_a_client
) -> None:
    # Grading, not profiles: the reader goes straight to the cases.
    Study.objects.filter(pk=open_study.pk).update(require_reader_profile=False)
    study_status_set(study=open_study, status=Study.Status.CLOSED)
    detail = coordinator_client.get(f"/studies/{open_study.pk}/").content.decode()
    assert "Reopen for grading" in detail
    assert reader_a_client.get(f"/reading/studies/{open_study.pk}/").status_code == 302
    response = coordinator_client.post(f"/studies/{open_study.pk}/status/", {"status": "open"})
    assert response.status_code == 302
    open_study.refresh_from_db()
    assert open_study.status == Study.Status.OPEN
    assert reader_a_client.get(f"/reading/studies/{open_study.pk}/").status_code == 200


def test_the_api_reopens_a_closed_study_but_no_study_goes_back_to_draft(
    open_study, coordinator
) -> None:
    client = APIClient()
    client.force_authenticate(coordinator)
    url = f"/api/v1/studies/{open_study.pk}/"
    assert client.patch(url, {"status": "closed"}, format="json").json()["status"] == "closed"
    assert client.patch(url, {"status": "open"}, format="json").json()["status"] == "open"
    with pytest.raises(ValidationError, match="cannot become draft"):
        study_status_set(study=open_study, status=Study.Status.DRAFT)


@pytest.mark.parametrize("status", [s.value for s in Study.Status])
def test_the_study_pages_status_button_offers_a_step_the_service_takes(
    status, make_study, coordinator_client
) -> None:
    # The steps are written once (STATUS_STEPS): the page's button comes from them.
    study = make_study(name="Steps")
    Study.objects.filter(pk=study.pk).update(status=status)
    page = coordinator_client.get(f"/studies/{study.pk}/")
    offered = page.context["next_status"]
    assert offered in STATUS_STEPS[status]
    assert f'name="status" value="{offered}"' in page.content.decode()
