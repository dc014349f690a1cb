"""A study's consent text comes before everything else a reader does in it: the grading page
sends them to it, the API answers 409 until they agree, and the agreement is recorded once,
with its time."""

from __future__ import annotations

import csv
import io

import pytest

from readerstudy.reading.models import ServedCase
from readerstudy.studies.models import Enrolment
from tests.support.reading import enrol, next_case, synthetic_study

CONSENT = "Your answers are stored under a pseudonym and published in aggregate only."


@pytest.mark.django_db
def test_a_reader_agrees_to_the_consent_text_once_before_the_first_case(
    reader_a, reader_a_client, analyst_client
):
    study = synthetic_study(2, consent_text=CONSENT)
    enrolment = enrol(study, reader_a)
    base = f"/api/v1/reading/studies/{study.pk}"

    refused = reader_a_client.get(f"{base}/next/")
    assert refused.status_code == 409
    assert "consent text" in refused.json()["detail"]
    assert f"/api/v1/reading/studies/{study.pk}/consent/" in refused.json()["detail"]
    # No case was served while consent was missing.
    assert not ServedCase.objects.filter(enrolment=enrolment).exists()

    state = reader_a_client.get(f"{base}/consent/").json()
    assert state == {"required": True, "text": CONSENT, "consented_at": None}

    page = reader_a_client.get(f"/reading/studies/{study.pk}/")
    assert page.status_code == 302 and page.url == f"/reading/studies/{study.pk}/consent/"
    shown = reader_a_client.get(page.url).content.decode()
    assert CONSENT in shown and "I agree and start" in shown

    agreed = reader_a_client.post(f"{base}/consent/")
    assert agreed.status_code == 200
    first_time = agreed.json()["consented_at"]
    assert first_time is not None
    # A second agreement (another tab) keeps the first time.
    assert reader_a_client.post(f"{base}/consent/").json()["consented_at"] == first_time
    assert reader_a_client.post(f"/reading/studies/{study.pk}/consent/").status_code == 302
    stored = Enrolment.objects.get(pk=enrolment.pk).consented_at
    assert stored.isoformat().replace("+00:00", "Z") == first_time.replace("+00:00", "Z")

    assert next_case(reader_a_client, study)["case"] is not None
    assert reader_a_client.get(f"/reading/studies/{study.pk}/consent/").status_code == 302
    # The study's readers export records when each reader agreed.
    export = analyst_client.get(f"/analysis/studies/{study.pk}/export/readers/").content.decode()
    rows = {row["reader"]: row for row in csv.DictReader(io.StringIO(export))}
    assert rows[enrolment.pseudonym]["consented_at"] == stored.isoformat()


@pytest.mark.django_db
def test_consent_comes_before_the_profile_and_a_study_without_text_asks_none(
    reader_a, reader_a_client
):
    study = synthetic_study(2, consent_text=CONSENT, require_reader_profile=True)
    enrol(study, reader_a)
    base = f"/api/v1/reading/studies/{study.pk}"
    profile = {"position": "attending", "experience": ">10", "board_certified": True}
    refused = reader_a_client.put(f"{base}/profile/", profile, content_type="application/json")
    assert refused.status_code == 409 and "consent" in refused.json()["detail"]
    form = reader_a_client.get(f"/reading/studies/{study.pk}/profile/")
    assert form.status_code == 302 and form.url.endswith("/consent/")
    reader_a_client.post(f"{base}/consent/")
    # Then the profile, then cases.
    assert "reader profile" in reader_a_client.get(f"{base}/next/").json()["detail"]
    saved = reader_a_client.put(f"{base}/profile/", profile, content_type="application/json")
    assert saved.status_code == 201, saved.content
    assert next_case(reader_a_client, study)["case"] is not None

    plain = synthetic_study(1)
    enrol(plain, reader_a)
    assert next_case(reader_a_client, plain)["case"] is not None
    state = reader_a_client.get(f"/api/v1/reading/studies/{plain.pk}/consent/").json()
    assert state == {"required": False, "text": "", "consented_at": None}
    assert reader_a_client.post(f"/api/v1/reading/studies/{plain.pk}/consent/").status_code == 400
