"""Coordinator pages: only a study's coordinators reach it; everyone else finds nothing."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from readerstudy.studies.models import Case, Enrolment, ImportJob, Study
from readerstudy.studies.services import import_job_run
from tests.factories import CaseFactory
from tests.support.ingest import ham_subset, ham_zip, staged_files

pytestmark = pytest.mark.django_db


def coordinator_pages(study: Study, case: Case, job_id: int) -> list[tuple[str, str]]:
    """(method, url) of every coordinator page, for a study that has a case and an import."""
    ids = {"study_id": study.pk}
    return [
        ("get", reverse("studies:list")),
        ("get", reverse("studies:create")),
        ("post", reverse("studies:create")),
        ("get", reverse("studies:detail", kwargs=ids)),
        ("post", reverse("studies:settings", kwargs=ids)),
        ("post", reverse("studies:status", kwargs=ids)),
        ("post", reverse("studies:import_create", kwargs=ids)),
        ("get", reverse("studies:import_detail", kwargs={**ids, "job_id": job_id})),
        ("get", reverse("studies:import_status", kwargs={**ids, "job_id": job_id})),
        ("post", reverse("studies:enrol", kwargs=ids)),
        (
            "get",
            reverse(
                "studies:case_image",
                kwargs={**ids, "public_id": case.public_id, "variant": "thumbnail"},
            ),
        ),
    ]


@pytest.fixture
def study_with_case(make_study) -> tuple[Study, Case, ImportJob]:
    study = make_study()
    job = ImportJob.objects.create(study=study, source="cli", status="succeeded")
    return study, CaseFactory(study=study, import_job=job), job


@pytest.mark.parametrize("who", ["reader_a_client", "analyst_client"])
def test_readers_and_analysts_get_404_on_every_coordinator_page(
    request, study_with_case, who
) -> None:
    client = request.getfixturevalue(who)
    study, case, job = study_with_case
    for method, url in coordinator_pages(study, case, job.pk):
        assert getattr(client, method)(url).status_code == 404, url
    assert "Studies" not in client.get("/").content.decode()


def test_another_coordinator_gets_404_on_every_page_of_a_study_not_theirs(
    study_with_case, other_coordinator
) -> None:
    from tests.support.session import logged_in

    client = logged_in(other_coordinator)
    study, case, job = study_with_case
    for method, url in coordinator_pages(study, case, job.pk)[3:]:
        assert getattr(client, method)(url).status_code == 404, url
    assert study.name not in client.get(reverse("studies:list")).content.decode()


def test_anonymous_visitors_are_sent_to_the_login_page(client, study_with_case) -> None:
    study, case, job = study_with_case
    for method, url in coordinator_pages(study, case, job.pk):
        response = getattr(client, method)(url)
        if "/cases/" in url:  # an image URL leads nowhere, not even to the login page
            assert response.status_code == 404, url
            continue
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_the_coordinator_sees_their_studies_and_the_nav_link(
    coordinator_client, make_study
) -> None:
    make_study(name="Melanoma reader study")
    home = coordinator_client.get("/").content.decode()
    assert reverse("studies:list") in home
    listing = coordinator_client.get(reverse("studies:list")).content.decode()
    assert "Melanoma reader study" in listing


def test_a_coordinator_creates_a_study_from_the_form(coordinator_client, coordinator) -> None:
    response = coordinator_client.post(
        reverse("studies:create"),
        {
            "name": "Carcinoma study",
            "task": "carcinoma-vs-keratosis",
            "modality": "clinical",
            "question": "Biopsy or reassure?",
            "confidence_scale": "1-5",
            "show_clinical_info": "on",
            "require_biopsy_proven": "on",
        },
    )
    study = Study.objects.get(name="Carcinoma study")
    assert response.status_code == 302
    assert response["Location"] == reverse("studies:detail", kwargs={"study_id": study.pk})
    assert study.status == "draft" and study.task == "carcinoma-vs-keratosis"
    assert study.task_definition["positive"] == ["akiec", "bcc", "scc"]
    assert (study.confidence_scale, study.show_clinical_info) == ("1-5", True)
    assert list(study.coordinators.all()) == [coordinator]


def test_a_custom_task_comes_from_a_mapping_file(coordinator_client) -> None:
    mapping = b'{"name": "bcc-vs-nevus", "positive": ["bcc"], "negative": ["nevus"]}'
    response = coordinator_client.post(
        reverse("studies:create"),
        {
            "name": "Custom",
            "task": "custom",
            "task_file": SimpleUploadedFile("task.json", mapping),
            "modality": "dermoscopic",
            "question": "?",
            "confidence_scale": "0-100",
        },
    )
    assert response.status_code == 302
    study = Study.objects.get(name="Custom")
    assert study.task == "bcc-vs-nevus"
    assert study.task_definition == {
        "name": "bcc-vs-nevus",
        "label": "bcc-vs-nevus",
        "positive": ["bcc"],
        "negative": ["nv"],
    }


def test_a_zip_uploaded_on_the_page_runs_as_a_job_and_shows_its_report(
    coordinator_client, make_study, ham_sample, tmp_path, django_capture_on_commit_callbacks
) -> None:
    study = make_study("malignant-vs-benign", require_biopsy_proven=False)
    archive = ham_zip(ham_sample, tmp_path, count=6)
    with django_capture_on_commit_callbacks() as queued:
        response = coordinator_client.post(
            reverse("studies:import_create", kwargs={"study_id": study.pk}),
            {
                "archive": SimpleUploadedFile("ham-set.zip", archive.read_bytes()),
                "manifest_format": "auto",
                "limit": "4",
                "seed": "3",
            },
        )
    job = ImportJob.objects.get(study=study)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "studies:import_detail", kwargs={"study_id": study.pk, "job_id": job.pk}
    )
    assert len(queued) == 1 and job.status == "pending" and job.source == "browser"
    status_url = reverse("studies:import_status", kwargs={"study_id": study.pk, "job_id": job.pk})
    assert coordinator_client.get(status_url).json()["status"] == "pending"

    assert import_job_run(import_job_id=job.pk) == "done"

    job.refresh_from_db()
    assert (job.status, job.cases_created, job.options["limit"]) == ("succeeded", 4, 4)
    assert coordinator_client.get(status_url).json() | {"finished": True, "percent": 100} == (
        coordinator_client.get(status_url).json()
    )
    page = coordinator_client.get(response["Location"]).content.decode()
    assert "4 cases added" in page and "Seed 3" in page
    assert study.cases.count() == 4
    assert not any(name.startswith(job.token) for name in staged_files())


def test_a_manifest_with_separate_image_files_is_accepted(
    coordinator_client, make_study, ham_sample, tmp_path, django_capture_on_commit_callbacks
) -> None:
    study = make_study("malignant-vs-benign", require_biopsy_proven=False)
    images, manifest = ham_subset(ham_sample, tmp_path, count=3)
    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in sorted(images.iterdir())]
    with django_capture_on_commit_callbacks():
        coordinator_client.post(
            reverse("studies:import_create", kwargs={"study_id": study.pk}),
            {
                "manifest": SimpleUploadedFile("metadata.csv", manifest.read_bytes()),
                "images": files,
                "manifest_format": "ham10000",
            },
        )
    job = ImportJob.objects.get(study=study)
    import_job_run(import_job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.upload == {"images": 3, "manifest": "metadata.csv"}
    assert study.cases.count() == 3


def test_a_rejected_import_lists_each_error_on_its_page(
    coordinator_client, make_study, ham_sample, tmp_path, django_capture_on_commit_callbacks
) -> None:
    study = make_study("malignant-vs-benign", require_biopsy_proven=True)
    archive = ham_zip(ham_sample, tmp_path, count=9)  # rows 8 and 9: confocal, consensus
    with django_capture_on_commit_callbacks():
        coordinator_client.post(
            reverse("studies:import_create", kwargs={"study_id": study.pk}),
            {"archive": SimpleUploadedFile("ham-set.zip", archive.read_bytes())},
        )
    job = ImportJob.objects.get(study=study)
    import_job_run(import_job_id=job.pk)
    job.refresh_from_db()

    assert job.status == "failed" and job.cases_created == 0
    unproven = [(e["file"], e["row"], e["field"], e["value"]) for e in job.errors[:2]]
    assert unproven == [
        ("HAM10000_metadata.csv", 8, "dx_type", "confocal"),
        ("HAM10000_metadata.csv", 9, "dx_type", "consensus"),
    ]
    page = coordinator_client.get(
        reverse("studies:import_detail", kwargs={"study_id": study.pk, "job_id": job.pk})
    ).content.decode()
    assert "Nothing was imported" in page
    assert '<td class="num">8</td><td>dx_type</td><td><code>confocal</code></td>' in page
    assert not study.cases.exists()


def test_an_unsafe_zip_is_refused_at_upload_and_nothing_is_staged(
    coordinator_client, make_study, tmp_path
) -> None:
    import zipfile

    study = make_study()
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../../../escape.csv", "image,diagnosis\n")
    before = staged_files()
    response = coordinator_client.post(
        reverse("studies:import_create", kwargs={"study_id": study.pk}),
        {"archive": SimpleUploadedFile("slip.zip", archive.read_bytes())},
    )
    assert response.status_code == 400
    assert "zip slip" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert staged_files() == before


def test_settings_change_while_draft_and_freeze_once_open(coordinator_client, make_study) -> None:
    study = make_study()
    CaseFactory(study=study, diagnosis="mel")
    CaseFactory(study=study, diagnosis="nv")
    settings_url = reverse("studies:settings", kwargs={"study_id": study.pk})
    form = {
        "name": "Renamed",
        "modality": "dermoscopic",
        "question": "Treat?",
        "confidence_scale": "1-5",
        "require_biopsy_proven": "on",
    }
    assert coordinator_client.post(settings_url, form).status_code == 302
    study.refresh_from_db()
    assert (study.name, study.question, study.confidence_scale) == ("Renamed", "Treat?", "1-5")

    status_url = reverse("studies:status", kwargs={"study_id": study.pk})
    coordinator_client.post(status_url, {"status": "open"})
    study.refresh_from_db()
    assert study.status == "open"
    coordinator_client.post(settings_url, {**form, "question": "Changed?", "name": "Final"})
    study.refresh_from_db()
    assert (study.name, study.question) == ("Final", "Treat?")
    coordinator_client.post(status_url, {"status": "draft"})
    study.refresh_from_db()
    assert study.status == "open"


def test_a_study_opens_only_with_positive_and_negative_cases(coordinator_client, make_study):
    study = make_study()
    url = reverse("studies:status", kwargs={"study_id": study.pk})
    response = coordinator_client.post(url, {"status": "open"}, follow=True)
    assert "import cases before opening" in response.content.decode()
    CaseFactory(study=study, diagnosis="nv")
    response = coordinator_client.post(url, {"status": "open"}, follow=True)
    assert "the study has no positive case" in response.content.decode()
    study.refresh_from_db()
    assert study.status == "draft"


def test_the_case_list_shows_thumbnails_through_the_access_checked_view(
    coordinator_client, reader_a_client, study_with_case
) -> None:
    study, case, _ = study_with_case
    page = coordinator_client.get(reverse("studies:detail", kwargs={"study_id": study.pk}))
    thumbnail_url = reverse(
        "studies:case_image",
        kwargs={"study_id": study.pk, "public_id": case.public_id, "variant": "thumbnail"},
    )
    assert thumbnail_url in page.content.decode()
    response = coordinator_client.get(thumbnail_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert reader_a_client.get(thumbnail_url).status_code == 404
    unknown = thumbnail_url.replace(str(case.public_id), str(uuid.uuid4()))
    assert coordinator_client.get(unknown).status_code == 404


def test_enrolling_creates_readers_and_shows_their_passwords_once(
    coordinator_client, make_study, reader_a, client
) -> None:
    study = make_study()
    response = coordinator_client.post(
        reverse("studies:enrol", kwargs={"study_id": study.pk}),
        {"usernames": "reader_a, newreader", "create": "on", "credentials": "password"},
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    (password,) = [o.initial_password for o in response.context["outcomes"] if o.initial_password]
    assert password in response.content.decode()
    assert [(e.pseudonym, e.reader.username) for e in Enrolment.objects.filter(study=study)] == [
        ("R01", "reader_a"),
        ("R02", "newreader"),
    ]
    login = client.post(reverse("accounts:login"), {"username": "newreader", "password": password})
    assert login.status_code == 302
    detail = coordinator_client.get(reverse("studies:detail", kwargs={"study_id": study.pk}))
    assert password not in detail.content.decode()


def test_an_import_report_lists_diagnoses_in_code_order_after_postgresql_stored_it(
    coordinator_client, make_study
) -> None:
    """PostgreSQL's jsonb sorts a stored report's keys by length (bcc, bkl, akiec)."""
    study = make_study("malignant-vs-benign")
    job = ImportJob.objects.create(
        study=study,
        source="browser",
        status="succeeded",
        report={
            "manifest": "manifest.csv",
            "format": "generic",
            "rows_read": 9,
            "task": "malignant-vs-benign",
            "taxonomy_version": "1",
            "seed": None,
            "available": {"akiec": 1, "bcc": 2, "bkl": 3},
            "imported": {"akiec": 1, "bcc": 2, "bkl": 3},
            "excluded_total": 3,
            "excluded_counts": {"not biopsy-proven": {"akiec": 1, "nv": 2}},
            "excluded": [],
        },
    )
    page = coordinator_client.get(
        reverse("studies:import_detail", kwargs={"study_id": study.pk, "job_id": job.pk})
    ).content.decode()
    rows = [page.index(f"<tr><td>{code} <span") for code in ("akiec", "bcc", "bkl")]
    assert rows == sorted(rows)
    assert "not biopsy-proven: akiec 1, nv 2" in page
