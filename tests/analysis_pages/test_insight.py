"""Inside the CNN: t-SNE map, saliency maps and the error gallery."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from readerstudy.analysis.insight import (
    error_gallery,
    operating_threshold,
    saliency_map_compute,
    saliency_map_request,
    tsne_map_compute,
    tsne_map_request,
)
from readerstudy.analysis.models import InsightStatus, TsneMap
from readerstudy.analysis.selectors import study_analysis_get
from readerstudy.scoring.selectors import active_model_for_task
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db


def test_the_tsne_map_has_a_point_per_embedded_case(graded_study, analyst_client) -> None:
    study, _, _ = graded_study
    model_version = active_model_for_task(study.task)
    first = analyst_client.get(f"/analysis/studies/{study.pk}/tsne.json").json()
    assert first["status"] == "pending" and first["points"] == []
    tsne_map_compute(tsne_map_id=TsneMap.objects.get(study=study).pk)
    body = analyst_client.get(f"/analysis/studies/{study.pk}/tsne.json").json()
    assert body["status"] == "ready"
    assert len(body["points"]) == study.cases.count() == 60
    assert {p["diagnosis"] for p in body["points"]} == {"mel", "nv"}
    # Cached: a second request does not queue another computation.
    assert tsne_map_request(study, model_version).status == InsightStatus.READY


def test_the_tsne_map_is_recomputed_when_new_scores_arrive(graded_study) -> None:
    from readerstudy.scoring.models import CnnScore

    study, _, _ = graded_study
    model_version = active_model_for_task(study.task)
    tsne = tsne_map_request(study, model_version)
    tsne_map_compute(tsne_map_id=tsne.pk)
    CnnScore.objects.filter(case__study=study).first().delete()
    assert tsne_map_request(study, model_version).status == InsightStatus.PENDING


def test_the_error_gallery_lists_wrong_calls_and_disagreements(graded_study, analyst_client):
    study, truth, cnn = graded_study
    model_version = active_model_for_task(study.task)
    rows = error_gallery(study, model_version, threshold=0.5)
    wrong = {n for n, (t, p) in enumerate(zip(truth, cnn, strict=True)) if (p >= 0.5) != bool(t)}
    listed_wrong = {row.case.position for row in rows if row.cnn_wrong}
    positions = sorted(study.cases.values_list("position", flat=True))
    assert listed_wrong == {positions[n] for n in wrong}
    assert all(row.cnn_wrong or row.disagrees_with_readers for row in rows)
    # The page uses the study's operating point: the CNN at the readers' mean sensitivity.
    threshold, basis = operating_threshold(study_analysis_get(study)[1])
    assert "mean sensitivity" in basis
    page = analyst_client.get(f"/analysis/studies/{study.pk}/errors/")
    assert page.status_code == 200
    expected = error_gallery(study, model_version, threshold=threshold)
    assert page.content.count(b'class="saliency"') == len(expected)


def test_a_saliency_map_is_computed_once_and_served_as_png(graded_study, analyst_client):
    study, _, _ = graded_study
    case = study.cases.first()
    url = f"/analysis/cases/{case.public_id}/saliency/"
    assert analyst_client.get(url).status_code == 202
    model_version = active_model_for_task(study.task)
    saliency_map_compute(saliency_map_id=saliency_map_request(case, model_version, "top").pk)
    response = analyst_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    overlay = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert overlay.size == (case.width, case.height)


def test_readers_get_404_on_every_insight_url(graded_study, reader_a_client, other_coordinator):
    study, _, _ = graded_study
    case = study.cases.first()
    urls = [
        f"/analysis/studies/{study.pk}/tsne.json",
        f"/analysis/studies/{study.pk}/errors/",
        f"/analysis/cases/{case.public_id}/saliency/",
        f"/analysis/cases/{case.public_id}/image/thumbnail/",
        f"/analysis/cases/{case.public_id}/image/full/",
    ]
    for client in (reader_a_client, logged_in(other_coordinator)):
        for url in urls:
            assert client.get(url).status_code == 404, url


@pytest.mark.browser
def test_the_tsne_map_draws_a_point_per_case_in_chromium(
    graded_study, page, analyst, password, artifacts
) -> None:
    study, _, _ = graded_study
    model_version = active_model_for_task(study.task)
    tsne_map_compute(tsne_map_id=tsne_map_request(study, model_version).pk)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("analyst")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"/analysis/studies/{study.pk}/")
    page.wait_for_selector("#tsne-figure .scatterlayer .point")
    assert page.locator("#tsne-figure .scatterlayer .point").count() == 60
    page.select_option("#tsne-colour", "score")
    page.wait_for_selector("#tsne-figure .colorbar")
    page.locator("#tsne").screenshot(path=str(artifacts / "tsne.png"))
