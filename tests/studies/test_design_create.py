"""Coordinators choose a study's design when they create it: in the browser, through the API
and on the command line, each checked the same way (studies.services.study_build)."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from readerstudy.studies.design import study_design
from readerstudy.studies.models import Study

GROUPING = {
    "name": "lineage",
    "classes": [
        {"code": "melanocytic", "label": "Melanocytic", "diagnoses": ["mel", "nv"]},
        {
            "code": "keratinocytic",
            "label": "Keratinocytic",
            "diagnoses": ["bcc", "akiec", "scc", "bkl"],
        },
        {"code": "other", "label": "Other", "diagnoses": ["df", "vasc"]},
    ],
}


def test_the_form_creates_a_ham7_diagnosis_study(coordinator_client) -> None:
    response = coordinator_client.post(
        reverse("studies:create"),
        {
            "name": "Seven classes",
            "task": "malignant-vs-benign",
            "design": "diagnosis",
            "classes": "ham7",
            "modality": "dermoscopic",
            "question": "Biopsy or reassure?",
            "confidence_scale": "0-100",
            "ask_diagnosis_confidence": "on",
            "require_biopsy_proven": "on",
        },
    )
    assert response.status_code == 302
    study = Study.objects.get(name="Seven classes")
    assert (study.design, study.diagnosis_scheme["name"]) == ("diagnosis", "ham7")
    design = study_design(study)
    assert [q.name for q in design.questions] == ["diagnosis_class"]
    assert design.diagnosis.confidence is not None
    assert study.diagnosis_question == "What is the most likely diagnosis?"


def test_the_form_takes_custom_classes_from_a_grouping_file_and_names_its_errors(
    coordinator_client,
) -> None:
    def post(grouping: dict) -> object:
        upload = SimpleUploadedFile("groups.json", json.dumps(grouping).encode())
        return coordinator_client.post(
            reverse("studies:create"),
            {
                "name": "Lineage",
                "task": "malignant-vs-benign",
                "design": "diagnosis_management",
                "classes": "custom",
                "grouping_file": upload,
                "modality": "dermoscopic",
                "question": "Biopsy or reassure?",
                "confidence_scale": "1-5",
            },
        )

    bad = {**GROUPING, "classes": GROUPING["classes"][:2]}
    refused = post(bad)
    assert refused.status_code == 200
    assert "place no class for the task&#x27;s diagnoses [&#x27;df&#x27;, &#x27;vasc&#x27;]" in (
        refused.content.decode()
    )
    assert not Study.objects.exists()
    assert post(GROUPING).status_code == 302
    study = Study.objects.get()
    assert [q.name for q in study_design(study).questions] == ["diagnosis_class", "decision"]
    assert study_design(study).scheme.class_of("scc") == "keratinocytic"


@pytest.mark.django_db
def test_the_api_creates_designs_and_refuses_classes_without_a_diagnosis(coordinator) -> None:
    client = APIClient()
    client.force_authenticate(coordinator)
    base = {"task": "malignant-vs-benign", "modality": "dermoscopic"}
    created = client.post(
        "/api/v1/studies/",
        {**base, "name": "Esteva", "design": "diagnosis", "classes": "esteva3"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["design"] == "diagnosis"
    assert [c["code"] for c in created.json()["diagnosis_scheme"]["classes"]] == [
        "benign",
        "malignant",
        "non-neoplastic",
    ]
    grouped = client.post(
        "/api/v1/studies/",
        {**base, "name": "Grouped", "design": "diagnosis", "class_grouping": GROUPING},
        format="json",
    )
    assert grouped.status_code == 201 and grouped.json()["diagnosis_scheme"]["name"] == "lineage"
    refused = client.post(
        "/api/v1/studies/", {**base, "name": "No", "classes": "ham7"}, format="json"
    )
    assert refused.status_code == 400 and "design" in refused.json()
    unknown = client.post(
        "/api/v1/studies/",
        {
            **base,
            "name": "No",
            "design": "diagnosis",
            "class_grouping": {
                "name": "x",
                "classes": [{"code": "a", "diagnoses": ["wart"]}, {"code": "b", "diagnoses": []}],
            },
        },
        format="json",
    )
    assert unknown.status_code == 400
    assert "unknown diagnosis 'wart'" in str(unknown.json()["class_grouping"])
    assert Study.objects.count() == 2


@pytest.mark.django_db
def test_import_study_creates_a_diagnosis_study_from_the_command_line(
    coordinator, ham_sample, tmp_path, capsys
) -> None:
    call_command(
        "import_study",
        name="Seven classes",
        task="malignant-vs-benign",
        design="diagnosis",
        classes="ham7",
        images=str(ham_sample / "images"),
        manifest=str(ham_sample / "HAM10000_metadata.csv"),
        biopsy_proven_only=True,
        no_progress=True,
    )
    study = Study.objects.get()
    scheme = study_design(study).scheme
    assert study.design == "diagnosis" and scheme is not None
    # Every imported case has a true class among the study's classes.
    assert {scheme.class_of(d) for d in study.cases.values_list("diagnosis", flat=True)} <= set(
        scheme.codes
    )
    path = tmp_path / "groups.json"
    path.write_text(json.dumps({**GROUPING, "classes": GROUPING["classes"][:1]}))
    with pytest.raises(CommandError, match="at least two classes"):
        call_command(
            "import_study",
            name="Bad",
            task="malignant-vs-benign",
            design="diagnosis",
            classes=str(path),
            images=str(ham_sample / "images"),
            no_progress=True,
        )
    assert Study.objects.count() == 1


@pytest.mark.django_db
def test_the_study_page_says_what_readers_answer(coordinator, coordinator_client) -> None:
    client = APIClient()
    client.force_authenticate(coordinator)
    body = {"task": "malignant-vs-benign", "modality": "dermoscopic", "name": "Seven"}
    study_id = client.post(
        "/api/v1/studies/", {**body, "design": "diagnosis", "classes": "ham7"}, format="json"
    ).json()["id"]
    page = coordinator_client.get(reverse("studies:detail", kwargs={"study_id": study_id}))
    text = page.content.decode()
    assert "Diagnosis: one class among N" in text
    assert "Melanoma (mel) (M)" in text and "Vascular lesion (vasc) (V)" in text
