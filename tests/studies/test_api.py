"""The studies API: the same services as the pages, the same access rules."""

from __future__ import annotations

import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from readerstudy.studies.models import Enrolment, ImportJob, Study
from readerstudy.studies.services import import_job_run
from tests.factories import CaseFactory
from tests.support.ingest import ham_zip

pytestmark = pytest.mark.django_db


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def routes(study_id: int, job_id: int) -> list[tuple[str, str]]:
    base = f"/api/v1/studies/{study_id}"
    return [
        ("get", "/api/v1/studies/"),
        ("post", "/api/v1/studies/"),
        ("get", f"{base}/"),
        ("patch", f"{base}/"),
        ("get", f"{base}/imports/"),
        ("post", f"{base}/imports/"),
        ("get", f"{base}/imports/{job_id}/"),
        ("get", f"{base}/imports/{job_id}/report/"),
        ("post", f"{base}/imports/{job_id}/undo/"),
        ("delete", f"{base}/"),
        ("get", f"{base}/confound-audit/"),
        ("get", f"{base}/cases/"),
        ("get", f"{base}/progress/"),
        ("get", f"{base}/enrolments/"),
        ("post", f"{base}/enrolments/"),
    ]


@pytest.fixture
def study_and_job(make_study) -> tuple[Study, ImportJob]:
    study = make_study()
    job = ImportJob.objects.create(study=study, source="cli", status="succeeded")
    CaseFactory(study=study, import_job=job)
    return study, job


def test_anonymous_calls_get_401(study_and_job) -> None:
    study, job = study_and_job
    for method, url in routes(study.pk, job.pk):
        assert getattr(api(), method)(url).status_code == 401, url


@pytest.mark.parametrize("who", ["reader_a", "analyst"])
def test_readers_and_analysts_get_404_on_every_route(request, study_and_job, who) -> None:
    client = api(request.getfixturevalue(who))
    study, job = study_and_job
    for method, url in routes(study.pk, job.pk):
        assert getattr(client, method)(url).status_code == 404, url


def test_another_coordinator_gets_404_on_a_study_not_theirs(study_and_job, other_coordinator):
    client = api(other_coordinator)
    study, job = study_and_job
    for method, url in routes(study.pk, job.pk)[2:]:
        assert getattr(client, method)(url).status_code == 404, url
    assert client.get("/api/v1/studies/").json()["results"] == []


def test_a_coordinator_creates_lists_and_updates_a_study(coordinator) -> None:
    client = api(coordinator)
    created = client.post(
        "/api/v1/studies/",
        {"name": "API study", "task": "melanoma-vs-nevus", "modality": "dermoscopic"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["task_definition"] == {
        "name": "melanoma-vs-nevus",
        "label": "Melanoma vs melanocytic nevus",
        "positive": ["mel"],
        "negative": ["nv"],
    }
    assert (body["status"], body["require_biopsy_proven"]) == ("draft", True)
    assert [s["name"] for s in client.get("/api/v1/studies/").json()["results"]] == ["API study"]

    url = f"/api/v1/studies/{body['id']}/"
    patched = client.patch(url, {"confidence_scale": "1-5"}, format="json")
    assert patched.status_code == 200 and patched.json()["confidence_scale"] == "1-5"
    refused = client.patch(url, {"name": "Renamed", "status": "open"}, format="json")
    assert refused.status_code == 400
    assert "import cases before opening" in str(refused.json())
    assert client.get(url).json()["name"] == "API study"  # all or nothing


def test_a_custom_task_mapping_must_fit_the_taxonomy(coordinator) -> None:
    client = api(coordinator)
    good = {"name": "bcc-vs-sk", "positive": ["bcc"], "negative": ["seborrheic keratosis"]}
    created = client.post(
        "/api/v1/studies/",
        {"name": "Custom", "task_mapping": good, "modality": "clinical"},
        format="json",
    )
    assert created.status_code == 201 and created.json()["task"] == "bcc-vs-sk"
    overlapping = {"name": "odd", "positive": ["akiec"], "negative": ["scc"]}
    refused = client.post(
        "/api/v1/studies/",
        {"name": "Bad", "task_mapping": overlapping, "modality": "clinical"},
        format="json",
    )
    assert refused.status_code == 400 and "share training class" in str(refused.json())


def test_an_uploaded_zip_becomes_a_job_with_status_report_and_cases(
    coordinator, make_study, ham_sample, tmp_path, django_capture_on_commit_callbacks
) -> None:
    study = make_study("malignant-vs-benign", require_biopsy_proven=False)
    client = api(coordinator)
    archive = ham_zip(ham_sample, tmp_path, count=12)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            f"/api/v1/studies/{study.pk}/imports/",
            {
                "archive": SimpleUploadedFile("ham-set.zip", archive.read_bytes()),
                "sample": "bkl=3,df=1",
                "seed": 11,
            },
            format="multipart",
        )
    assert response.status_code == 202, response.json()
    job = response.json()
    assert (job["status"], job["source"], len(queued)) == ("pending", "api", 1)
    assert job["options"]["sample"] == {"bkl": 3, "df": 1}

    import_job_run(import_job_id=job["id"])

    status = client.get(f"/api/v1/studies/{study.pk}/imports/{job['id']}/").json()
    assert (status["status"], status["cases_created"], status["percent"]) == ("succeeded", 4, 100)
    report = client.get(status["report_url"]).json()
    assert report["report"]["imported"] == {"bkl": 3, "df": 1}
    assert report["report"]["available"] == {"bkl": 10, "df": 2}
    assert report["report"]["excluded"] == []
    cases = client.get(f"/api/v1/studies/{study.pk}/cases/").json()["results"]
    assert sorted(c["diagnosis"] for c in cases) == ["bkl", "bkl", "bkl", "df"]
    assert {c["truth"] for c in cases} == {False}


def test_an_unsafe_zip_is_refused_with_the_member_named(coordinator, make_study, tmp_path):
    study = make_study()
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("images/../../../../tmp/owned.jpg", b"x")
    response = api(coordinator).post(
        f"/api/v1/studies/{study.pk}/imports/",
        {"archive": SimpleUploadedFile("slip.zip", archive.read_bytes())},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()[0]["field"] == "images/../../../../tmp/owned.jpg"
    assert not ImportJob.objects.filter(study=study).exists()


def test_an_upload_without_images_is_refused(coordinator, make_study) -> None:
    study = make_study()
    response = api(coordinator).post(
        f"/api/v1/studies/{study.pk}/imports/",
        {"manifest": SimpleUploadedFile("m.csv", b"image,diagnosis\n")},
        format="multipart",
    )
    assert response.status_code == 400


def test_enrolment_through_the_api_creates_accounts_with_a_one_time_link(
    coordinator, make_study, reader_b, client
) -> None:
    study = make_study()
    response = api(coordinator).post(
        f"/api/v1/studies/{study.pk}/enrolments/",
        {"readers": ["reader_b", "carol"], "create": True, "credentials": "link"},
        format="json",
    )
    assert response.status_code == 201
    existing, created = response.json()
    assert existing["enrolment"]["pseudonym"] == "R01" and not existing["created_account"]
    assert created["created_account"] and created["initial_password"] is None
    link = created["set_password_url"]
    assert link.startswith("http://testserver/accounts/set-password/")

    form = client.get(link, follow=True)
    assert form.status_code == 200 and form.context["validlink"]
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a long reader passphrase", "new_password2": "a long reader passphrase"},
    )
    assert done.status_code == 302
    again = client.get(link, follow=True)
    assert not again.context["validlink"]
    listed = api(coordinator).get(f"/api/v1/studies/{study.pk}/enrolments/").json()["results"]
    assert [(e["pseudonym"], e["reader"]) for e in listed] == [
        ("R01", "reader_b"),
        ("R02", "carol"),
    ]
    assert Enrolment.objects.get(reader__username="carol").enrolled_by == coordinator


def test_enrolling_an_unknown_name_without_create_enrols_no_one(
    coordinator, make_study, reader_a
) -> None:
    study = make_study()
    response = api(coordinator).post(
        f"/api/v1/studies/{study.pk}/enrolments/",
        {"readers": ["reader_a", "nobody"]},
        format="json",
    )
    assert response.status_code == 400 and "nobody: no such user" in str(response.json())
    assert not Enrolment.objects.exists()


def test_the_modality_cannot_change_once_cases_are_imported(coordinator, study_and_job) -> None:
    study, _ = study_and_job
    study.status = "draft"
    study.save()
    response = api(coordinator).patch(
        f"/api/v1/studies/{study.pk}/", {"modality": "clinical"}, format="json"
    )
    assert response.status_code == 400 and "modality cannot change" in str(response.json())
    study.refresh_from_db()
    assert study.modality == "dermoscopic"


def test_a_manifest_with_image_files_can_be_uploaded_through_the_api(
    coordinator, make_study, ham_sample, tmp_path, django_capture_on_commit_callbacks
) -> None:
    from tests.support.ingest import ham_subset

    study = make_study("malignant-vs-benign", require_biopsy_proven=False)
    images, manifest = ham_subset(ham_sample, tmp_path, count=3)
    with django_capture_on_commit_callbacks():
        response = api(coordinator).post(
            f"/api/v1/studies/{study.pk}/imports/",
            {
                "manifest": SimpleUploadedFile("metadata.csv", manifest.read_bytes()),
                "images": [
                    SimpleUploadedFile(p.name, p.read_bytes()) for p in sorted(images.iterdir())
                ],
            },
            format="multipart",
        )
    assert response.status_code == 202, response.json()
    assert response.json()["upload"] == {"images": 3, "manifest": "metadata.csv"}
    import_job_run(import_job_id=response.json()["id"])
    assert study.cases.count() == 3


def test_the_schema_documents_every_studies_route_without_warnings(tmp_path) -> None:
    from django.core.management import call_command

    schema = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema))
    text = schema.read_text()
    for route in (
        "/api/v1/studies/{study_id}/imports/:",
        "/api/v1/studies/{study_id}/imports/{job_id}/report/:",
        "/api/v1/studies/{study_id}/enrolments/:",
    ):
        assert route in text


def test_a_huge_limit_reads_as_the_largest_page_not_a_server_error(coordinator, make_study):
    for number in range(3):
        make_study(name=f"study {number}")
    client = api(coordinator)
    answer = client.get("/api/v1/studies/", {"limit": "99999999999999999999"})
    assert answer.status_code == 200
    assert answer.json()["count"] == 3 and len(answer.json()["results"]) == 3
    answer = client.get("/api/v1/studies/", {"limit": "99999999999999999999", "offset": "2"})
    assert answer.status_code == 200 and len(answer.json()["results"]) == 1
    assert answer.json()["previous"] and "limit=1000" in answer.json()["previous"]
