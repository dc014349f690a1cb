"""Several algorithms on one study: imported scores analysed like a CNN that ran here, the
analyst's choice, the paired comparison, and why t-SNE is absent for imported scores."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from sklearn.metrics import roc_auc_score

from readerstudy.scoring.models import ModelVersion
from readerstudy.stats.roc import paired_test
from readerstudy.stats.simulate import simulate_cnn_scores
from tests.support.algorithms import write_scores
from tests.support.browser import browser_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(graded_study, tmp_path):
    """A device's scores for every case of the graded study, imported from a CSV."""
    study, truth, _ = graded_study
    device = simulate_cnn_scores(truth, auc=0.8, seed=11)
    source_ids = study.cases.order_by("position").values_list("source_id", flat=True)
    path = write_scores(
        tmp_path / "device.csv",
        ["source_id", "probability"],
        [(source_id, f"{p:.6f}") for source_id, p in zip(source_ids, device, strict=True)],
    )
    call_command(
        "import_scores",
        "--study",
        str(study.pk),
        "--scores",
        str(path),
        "--name",
        "Device X",
        stdout=StringIO(),
    )
    rounded = np.asarray([float(f"{p:.6f}") for p in device])
    return ModelVersion.objects.get(kind="imported"), rounded


def test_imported_scores_reproduce_scikit_learns_auc_in_the_analysis_json(
    graded_study, imported, analyst_client
) -> None:
    study, truth, _ = graded_study
    algorithm, device = imported
    before = analyst_client.get(f"/analysis/studies/{study.pk}/export/json/").json()
    assert before["model"]["kind"] == "native", "the active model stays the default"

    response = analyst_client.post(
        f"/api/v1/scoring/studies/{study.pk}/algorithm/", {"model": algorithm.pk}
    )
    assert response.status_code == 200
    assert response.json()["analysed_with"]["id"] == algorithm.pk

    body = json.loads(analyst_client.get(f"/analysis/studies/{study.pk}/export/json/").content)
    assert body["model"] == {
        "id": algorithm.pk,
        "name": "Device X",
        "kind": "imported",
        "sha256": algorithm.sha256,
        "clinical_metadata": False,
    }
    assert body["cases_scored"] == 60
    assert body["analysis"]["cnn"]["auc"] == pytest.approx(roc_auc_score(truth, device), abs=1e-12)
    assert body["analysis"]["mrmc"] is not None
    ratings = analyst_client.get(f"/analysis/studies/{study.pk}/export/ratings/")
    assert ratings.status_code == 200
    assert body == analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/").json()


def test_the_analysis_page_compares_two_algorithms_on_the_same_cases(
    graded_study, imported, analyst_client
) -> None:
    study, truth, cnn = graded_study
    algorithm, device = imported
    page = analyst_client.get(f"/analysis/studies/{study.pk}/?compare={algorithm.pk}")
    assert page.status_code == 200
    expected = paired_test(truth, cnn, device)
    comparison = page.context["comparison"]
    assert comparison["cases"] == 60
    assert comparison["auc_second"] == pytest.approx(roc_auc_score(truth, device), abs=1e-12)
    assert comparison["p"] == pytest.approx(expected.p, abs=1e-12)
    assert comparison["z"] == pytest.approx(expected.z, abs=1e-12)
    html = page.content.decode()
    assert "paired DeLong z =" in html
    assert "Model card: Device X" in html
    [api] = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/compare/").json()[
        "comparisons"
    ]
    assert api["p"] == pytest.approx(expected.p, abs=1e-12)
    assert api["second"]["kind"] == "imported" and api["method"].startswith("paired DeLong")
    names = [trace.get("name", "") for trace in page.context["figure"]["data"]]
    assert any(name.startswith("CNN (AUC") for name in names)
    assert any(name.startswith("Device X (AUC") for name in names)


def test_for_imported_scores_the_page_says_why_there_is_no_tsne_or_saliency(
    graded_study, imported, analyst_client
) -> None:
    study, _, _ = graded_study
    algorithm, _ = imported
    analyst_client.post(
        f"/scoring/studies/{study.pk}/algorithm/",
        {"model": algorithm.pk, "next": f"/analysis/studies/{study.pk}/"},
    )
    html = analyst_client.get(f"/analysis/studies/{study.pk}/").content.decode()
    assert "Device X is imported scores" in html and "no t-SNE map" in html
    assert 'id="tsne"' not in html
    assert analyst_client.get(f"/analysis/studies/{study.pk}/tsne.json").status_code == 404
    errors = analyst_client.get(f"/analysis/studies/{study.pk}/errors/").content.decode()
    assert "no saliency map" in errors and "saliency-target" not in errors


def test_a_reader_cannot_choose_a_studys_algorithm(graded_study, imported, reader_a_client):
    study, _, _ = graded_study
    algorithm, _ = imported
    response = reader_a_client.post(
        f"/api/v1/scoring/studies/{study.pk}/algorithm/", {"model": algorithm.pk}
    )
    assert response.status_code in (403, 404)
    assert not study.__class__.objects.filter(analysis_algorithm__isnull=False).exists()


def test_an_analyst_chooses_and_compares_algorithms_in_chromium(
    graded_study, imported, page, analyst, password, artifacts
) -> None:
    study, _, _ = graded_study
    browser_login(page, "analyst", password)
    page.goto(f"/analysis/studies/{study.pk}/")
    page.get_by_label("Compare with").select_option(label="Device X (imported)")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_selector("#roc-figure .main-svg")
    assert page.get_by_text("Device X (AUC").first.is_visible()
    assert page.locator("#algorithm-comparison").get_by_text("paired DeLong").is_visible()
    page.screenshot(path=str(artifacts / "analysis-compare.png"), full_page=True)

    page.get_by_label("Analyse with").select_option(label="Device X (imported)")
    page.get_by_role("button", name="Use for the analysis").click()
    page.wait_for_selector("#roc-figure .main-svg")
    assert page.get_by_text("The analysis now uses Device X.").is_visible()
    assert page.locator("#tsne-unavailable").get_by_text("imported scores").is_visible()
