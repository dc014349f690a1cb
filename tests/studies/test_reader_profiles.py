"""Readers' profiles: asked once before the first case (when the study requires it), prefilled
from the reader's last study, edited by the study's coordinator, refused once the study is
closed, and valid only with the choices of the model."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from readerstudy.reading.models import Decision
from readerstudy.studies.models import ReaderProfile, Study
from readerstudy.studies.selectors import reader_profile_initial, reader_profile_missing
from readerstudy.studies.services import reader_profile_save, study_build, task_resolve
from tests.support.reading import enrol, next_case, submit, synthetic_study
from tests.support.session import logged_in

ATTENDING = {
    "position": "attending",
    "board_certified": "yes",
    "experience": ">10",
    "notes": "pigmented lesion clinic",
}


@pytest.mark.django_db
def test_a_new_study_asks_for_reader_profiles_by_default(coordinator):
    study = study_build(
        name="New",
        task=task_resolve(name="melanoma-vs-nevus"),
        modality="dermoscopic",
        created_by=coordinator,
    )
    assert study.require_reader_profile is True


@pytest.mark.django_db
def test_the_database_refuses_a_position_outside_the_choices(reader_a):
    enrolment = enrol(synthetic_study(1), reader_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        ReaderProfile.objects.create(enrolment=enrolment, position="chief", experience=">10")
    with pytest.raises(IntegrityError), transaction.atomic():
        ReaderProfile.objects.create(enrolment=enrolment, position="resident", experience="11")


@pytest.mark.django_db
def test_the_service_names_the_field_of_a_bad_value(reader_a):
    enrolment = enrol(synthetic_study(1), reader_a)
    with pytest.raises(ValidationError) as error:
        reader_profile_save(enrolment=enrolment, position="resident", experience="ten")
    assert "experience" in error.value.message_dict


@pytest.mark.django_db
def test_a_reader_meets_the_profile_form_before_the_first_case(reader_a, reader_a_client):
    study = synthetic_study(2, require_reader_profile=True)
    enrolment = enrol(study, reader_a)
    page = reader_a_client.get(f"/reading/studies/{study.pk}/")
    assert page.status_code == 302
    assert page["Location"] == f"/reading/studies/{study.pk}/profile/"
    form = reader_a_client.get(page["Location"])
    assert form.status_code == 200
    assert b"Before your first case" in form.content
    assert b"profile-prefilled" not in form.content

    refused = reader_a_client.post(page["Location"], {"position": "attending"})
    assert refused.status_code == 400
    assert not ReaderProfile.objects.exists()

    saved = reader_a_client.post(page["Location"], ATTENDING)
    assert saved.status_code == 302 and saved["Location"] == f"/reading/studies/{study.pk}/"
    profile = ReaderProfile.objects.get(enrolment=enrolment)
    assert (profile.position, profile.board_certified, profile.experience, profile.notes) == (
        "attending",
        True,
        ">10",
        "pigmented lesion clinic",
    )
    assert profile.updated_by == reader_a
    assert reader_a_client.get(f"/reading/studies/{study.pk}/").status_code == 200
    # Asked once: the form now leads straight to the grading page.
    again = reader_a_client.get(f"/reading/studies/{study.pk}/profile/")
    assert again.status_code == 302 and again["Location"] == f"/reading/studies/{study.pk}/"


@pytest.mark.django_db
def test_the_api_refuses_the_first_case_until_the_profile_is_given(reader_a, reader_a_client):
    study = synthetic_study(2, require_reader_profile=True)
    enrol(study, reader_a)
    refused = reader_a_client.get(f"/api/v1/reading/studies/{study.pk}/next/")
    assert refused.status_code == 409
    body = refused.json()
    assert "reader profile" in body["detail"]
    assert f"/api/v1/reading/studies/{study.pk}/profile/" in body["detail"]

    state = reader_a_client.get(f"/api/v1/reading/studies/{study.pk}/profile/").json()
    assert state == {"saved": False, "required": True, "profile": None}
    bad = reader_a_client.put(
        f"/api/v1/reading/studies/{study.pk}/profile/",
        {"position": "attending", "experience": "11"},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "experience" in bad.json()
    given = reader_a_client.put(
        f"/api/v1/reading/studies/{study.pk}/profile/",
        {"position": "resident", "board_certified": False, "experience": "<3"},
        content_type="application/json",
    )
    assert given.status_code == 201, given.content
    assert given.json()["profile"]["position"] == "resident"
    served = next_case(reader_a_client, study)
    assert submit(reader_a_client, study, served["case"]["token"]).status_code == 201
    twice = reader_a_client.put(
        f"/api/v1/reading/studies/{study.pk}/profile/",
        {"position": "attending", "experience": ">10"},
        content_type="application/json",
    )
    assert twice.status_code == 409
    assert ReaderProfile.objects.get().position == "resident"


@pytest.mark.django_db
def test_a_study_that_does_not_require_it_starts_at_the_first_case(reader_a, reader_a_client):
    study = synthetic_study(1, require_reader_profile=False)
    enrolment = enrol(study, reader_a)
    assert not reader_profile_missing(enrolment)
    assert reader_a_client.get(f"/reading/studies/{study.pk}/").status_code == 200
    assert next_case(reader_a_client, study)["case"] is not None


@pytest.mark.django_db
def test_the_form_is_prefilled_from_the_readers_last_study(reader_a, reader_a_client):
    first, second = synthetic_study(1), synthetic_study(1, require_reader_profile=True)
    reader_profile_save(
        enrolment=enrol(first, reader_a), position="resident", experience="3-10", notes="x"
    )
    enrolment = enrol(second, reader_a, pseudonym="R07")
    assert reader_profile_initial(enrolment) == {
        "position": "resident",
        "board_certified": None,
        "experience": "3-10",
        "notes": "x",
    }
    page = reader_a_client.get(f"/reading/studies/{second.pk}/profile/")
    assert b"profile-prefilled" in page.content
    assert re.search(rb'<input[^>]*value="resident"[^>]*checked', page.content)
    # Still asked for this study: its record of who read it is its own.
    assert reader_profile_missing(enrolment)


@pytest.mark.django_db
def test_the_coordinator_edits_a_readers_profile(coordinator, coordinator_client, reader_a):
    study = synthetic_study(1, created_by=coordinator, require_reader_profile=True)
    enrolment = enrol(study, reader_a)
    detail = coordinator_client.get(f"/studies/{study.pk}/")
    url = f"/studies/{study.pk}/readers/{enrolment.pk}/profile/"
    assert url.encode() in detail.content and b"not given" in detail.content
    assert b"profile-missing" in coordinator_client.get(url).content
    saved = coordinator_client.post(url, {**ATTENDING, "position": "other_physician"})
    assert saved.status_code == 302
    profile = ReaderProfile.objects.get(enrolment=enrolment)
    assert profile.position == "other_physician" and profile.updated_by == coordinator
    assert b"Other physician" in coordinator_client.get(f"/studies/{study.pk}/").content
    corrected = coordinator_client.post(url, {**ATTENDING, "board_certified": "no"})
    assert corrected.status_code == 302
    profile.refresh_from_db()
    assert (profile.position, profile.board_certified) == ("attending", False)
    assert ReaderProfile.objects.count() == 1


@pytest.mark.django_db
def test_another_coordinator_cannot_see_a_readers_profile(other_coordinator, coordinator, reader_a):
    study = synthetic_study(1, created_by=coordinator)
    enrolment = enrol(study, reader_a)
    url = f"/studies/{study.pk}/readers/{enrolment.pk}/profile/"
    client = logged_in(other_coordinator)
    assert client.get(url).status_code == 404
    assert client.post(url, ATTENDING).status_code == 404
    assert not ReaderProfile.objects.exists()


@pytest.mark.django_db
def test_a_closed_studys_profiles_are_final(coordinator, coordinator_client, reader_a):
    study = synthetic_study(1, created_by=coordinator)
    enrolment = enrol(study, reader_a)
    Study.objects.filter(pk=study.pk).update(status="closed")
    refused = coordinator_client.post(
        f"/studies/{study.pk}/readers/{enrolment.pk}/profile/", ATTENDING
    )
    assert refused.status_code == 400
    assert b"closed" in refused.content
    assert not ReaderProfile.objects.exists()
    assert not Decision.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_studies_from_before_profiles_keep_their_readers_grading():
    """The migration leaves existing studies without the requirement (a reader half-way
    through an open study is not stopped by a form); new studies have it."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("studies", "0006_ai_assistance")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    owner = old_apps.get_model("auth", "User").objects.create(username="old-coordinator")
    old_study = old_apps.get_model("studies", "Study").objects.create(
        name="Before profiles",
        task="melanoma-vs-nevus",
        task_definition={},
        taxonomy_version="1",
        modality="dermoscopic",
        status="open",
        created_by_id=owner.pk,
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert Study.objects.get(pk=old_study.pk).require_reader_profile is False
    new = Study.objects.create(
        name="After",
        task="melanoma-vs-nevus",
        task_definition={},
        taxonomy_version="1",
        modality="dermoscopic",
        created_by_id=owner.pk,
    )
    assert new.require_reader_profile is True


@pytest.mark.django_db
def test_the_coordinator_api_lists_and_corrects_profiles(coordinator, coordinator_client, reader_a):
    study = synthetic_study(1, created_by=coordinator)
    enrolment = enrol(study, reader_a)
    url = f"/api/v1/studies/{study.pk}/enrolments/{enrolment.pk}/profile/"
    assert coordinator_client.get(url).json() == {"pseudonym": enrolment.pseudonym, "profile": None}
    listed = coordinator_client.get(f"/api/v1/studies/{study.pk}/enrolments/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert rows[0]["profile"] is None
    bad = coordinator_client.put(
        url, {"position": "attending", "experience": ">11"}, content_type="application/json"
    )
    assert bad.status_code == 400 and "experience" in bad.json()
    saved = coordinator_client.put(
        url,
        {"position": "attending", "board_certified": True, "experience": ">10"},
        content_type="application/json",
    )
    assert saved.status_code == 200
    assert saved.json()["profile"] == {
        "position": "attending",
        "board_certified": True,
        "experience": ">10",
        "notes": "",
    }
    listed = coordinator_client.get(f"/api/v1/studies/{study.pk}/enrolments/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert rows[0]["profile"]["experience"] == ">10"
    assert ReaderProfile.objects.get(enrolment=enrolment).updated_by == coordinator
