"""One default for "every case must be biopsy-proven": web form, API and import_study agree."""

from __future__ import annotations

import re

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from readerstudy.studies.models import Study

pytestmark = pytest.mark.django_db


def form_default(client) -> bool:
    page = client.get("/studies/new/").content.decode()
    checkbox = re.search(r'<input[^>]*name="require_biopsy_proven"[^>]*>', page)
    assert checkbox, page
    return " checked" in checkbox.group(0)


def api_default(coordinator) -> bool:
    client = APIClient()
    client.force_authenticate(coordinator)
    response = client.post(
        "/api/v1/studies/",
        {"name": "From the API", "task": "melanoma-vs-nevus", "modality": "dermoscopic"},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["require_biopsy_proven"]


def cli_import(ham_sample, name: str, *flags: str) -> Study:
    # carcinoma-vs-keratosis: 4 of the sample's benign keratoses are not biopsy-proven.
    call_command(
        "import_study",
        *flags,
        name=name,
        task="carcinoma-vs-keratosis",
        images=str(ham_sample / "images"),
        manifest=str(ham_sample / "HAM10000_metadata.csv"),
        no_progress=True,
    )
    return Study.objects.get(name=name)


def cli_default(ham_sample) -> bool | None:
    """None: refused because rows are not biopsy-proven (so the study required proof)."""
    try:
        return cli_import(ham_sample, "From the command line").require_biopsy_proven
    except CommandError:
        return None


def test_every_way_in_requires_biopsy_proof_by_default(
    coordinator, coordinator_client, ham_sample, capsys
) -> None:
    assert form_default(coordinator_client) is True
    assert api_default(coordinator) is True
    assert cli_default(ham_sample) is None
    assert "the study requires biopsy-proven cases" in capsys.readouterr().err


def test_the_setting_changes_the_default_everywhere(
    coordinator, coordinator_client, ham_sample, settings
) -> None:
    settings.READERSTUDY_REQUIRE_BIOPSY_PROVEN_DEFAULT = False
    assert form_default(coordinator_client) is False
    assert api_default(coordinator) is False
    assert cli_default(ham_sample) is False


def test_import_study_can_say_either_way(coordinator, ham_sample) -> None:
    study = cli_import(ham_sample, "Unproven allowed", "--no-require-biopsy-proven")
    assert not study.require_biopsy_proven
    assert study.cases.filter(biopsy_proven=False).count() == 4
