"""The confound audit on real images: what ingest records, the warnings a study built like
the first demo raises (sharp ISIC melanomas, small HAM10000 nevi), and that such a study opens
only once a coordinator has acknowledged them, on the page and through the API."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from readerstudy.studies.ingest.importer import ImportOptions, ImportSource, study_import
from readerstudy.studies.models import ConfoundAcknowledgement, Study

pytestmark = pytest.mark.django_db


def import_set(study: Study, images: Path, manifest: Path, **options: object) -> None:
    study_import(
        study=study,
        source=ImportSource(images=images, manifest=manifest),
        options=ImportOptions(**options),  # type: ignore[arg-type]
        created_by=study.created_by,
    )


def ham_rows(ham_full: Path, target: Path, **counts: int) -> Path:
    """A HAM10000 manifest of so many biopsy-proven lesions per diagnosis (``nv=12``)."""
    with (ham_full / "HAM10000_metadata.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["dx_type"] == "histo"]
    lesions = list({r["lesion_id"]: r for r in rows}.values())
    chosen = [
        row for dx, count in counts.items() for row in [r for r in lesions if r["dx"] == dx][:count]
    ]
    fields = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]
    with target.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(chosen)
    return target


@pytest.fixture
def confounded_study(make_study, ham_full, isic_demo, tmp_path) -> Study:
    """As the first demo: the melanomas are sharp ISIC images, the nevi small HAM10000 ones."""
    study = make_study()
    import_set(
        study,
        isic_demo / "images",
        isic_demo / "metadata.csv",
        biopsy_proven_only=True,
        limit=6,
        seed=1,
    )
    nevi = ham_rows(ham_full, tmp_path / "nevi.csv", nv=12)
    import_set(study, ham_full / "images", nevi, manifest_format="ham10000")
    return study


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_ingest_records_the_original_format_jpeg_quality_and_colours(confounded_study) -> None:
    melanoma = confounded_study.cases.filter(truth=True).first()
    nevus = confounded_study.cases.filter(truth=False).first()
    assert (melanoma.source_format, nevus.source_format) == ("JPEG", "JPEG")
    # The ISIC set was saved at quality 92, the downscaled HAM10000 copies at 75.
    assert (melanoma.source_jpeg_quality, nevus.source_jpeg_quality) == (92, 75)
    for case in (melanoma, nevus):
        assert len(case.mean_rgb) == 3 and len(case.border_rgb) == 3
        assert all(0 < value < 255 for value in case.mean_rgb + case.border_rgb)


def test_a_study_whose_image_size_gives_the_truth_away_opens_through_the_api_only_once_acknowledged(
    confounded_study, coordinator
) -> None:
    client = api(coordinator)
    url = f"/api/v1/studies/{confounded_study.pk}/"
    audit = client.get(url + "confound-audit/").json()
    warned = {w["key"] for w in audit["warnings"]}
    assert {"import_batch", "pixel_width", "pixel_area", "jpeg_quality"} <= warned
    width = next(p for p in audit["properties"] if p["key"] == "pixel_width")
    assert width["auc"] == 1.0 and width["higher_in"] == "positives" and width["warning"]
    assert audit["unacknowledged"] and audit["acknowledgement"] is None

    refused = client.patch(url, {"status": "open"}, format="json")
    assert refused.status_code == 400
    assert "confound audit" in str(refused.json()) and "Pixel width" in str(refused.json())
    confounded_study.refresh_from_db()
    assert confounded_study.status == "draft"
    assert not ConfoundAcknowledgement.objects.exists()

    opened = client.patch(url, {"status": "open", "acknowledge_confounds": True}, format="json")
    assert opened.status_code == 200 and opened.json()["status"] == "open"
    recorded = ConfoundAcknowledgement.objects.get(study=confounded_study)
    assert recorded.acknowledged_by == coordinator
    assert {w["key"] for w in recorded.warnings} == warned
    audit = client.get(url + "confound-audit/").json()
    assert audit["unacknowledged"] == []
    assert audit["acknowledgement"]["acknowledged_by"] == coordinator.username


def test_the_study_page_shows_the_audit_and_opens_only_with_the_acknowledgement_ticked(
    confounded_study, coordinator_client, coordinator
) -> None:
    page = coordinator_client.get(f"/studies/{confounded_study.pk}/").content.decode()
    assert "Confound audit" in page and "Pixel width" in page and "Winkler" in page
    assert 'name="acknowledge_confounds"' in page
    # The level of the intervals in words (it read "1%"), and a missing field's "higher in"
    # names the cases that miss it or have it, never True or False.
    assert "with a 95% confidence interval" in page and ">95% CI</th>" in page
    audit = api(coordinator).get(f"/api/v1/studies/{confounded_study.pk}/confound-audit/").json()
    site = next(p for p in audit["properties"] if p["key"] == "site_missing")
    assert site["higher_in"] == "missing"  # the ISIC melanomas record no body site
    assert "<td>True</td>" not in page and "<td>False</td>" not in page

    status_url = f"/studies/{confounded_study.pk}/status/"
    coordinator_client.post(status_url, {"status": "open"})
    confounded_study.refresh_from_db()
    assert confounded_study.status == "draft"

    coordinator_client.post(status_url, {"status": "open", "acknowledge_confounds": "1"})
    confounded_study.refresh_from_db()
    assert confounded_study.status == "open"
    page = coordinator_client.get(f"/studies/{confounded_study.pk}/").content.decode()
    assert f"Acknowledged by {coordinator.username}" in page


def test_a_study_of_one_source_opens_without_an_acknowledgement(
    make_study, ham_full, tmp_path, coordinator
) -> None:
    study = make_study()
    manifest = ham_rows(ham_full, tmp_path / "lesions.csv", mel=8, nv=12)
    import_set(study, ham_full / "images", manifest, manifest_format="ham10000")
    audit = api(coordinator).get(f"/api/v1/studies/{study.pk}/confound-audit/").json()
    assert audit["warnings"] == []
    answer = api(coordinator).patch(
        f"/api/v1/studies/{study.pk}/", {"status": "open"}, format="json"
    )
    assert answer.status_code == 200 and answer.json()["status"] == "open"
    assert not ConfoundAcknowledgement.objects.exists()
