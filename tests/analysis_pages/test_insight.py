"""Inside the CNN: t-SNE map, saliency maps and the error gallery."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from readerstudy.analysis.exports import export_bytes
from readerstudy.analysis.insight import (
    SALIENCY_SECONDS_GUESS,
    error_gallery,
    operating_threshold,
    saliency_estimate,
    tsne_map_compute,
    tsne_map_request,
)
from readerstudy.analysis.models import InsightStatus, SaliencyMap, TsneMap
from readerstudy.analysis.selectors import study_analysis_get
from readerstudy.scoring.models import CnnScore
from readerstudy.scoring.saliency import saliency_map_compute, saliency_map_request
from readerstudy.scoring.selectors import model_version_active_get
from tests.support.session import logged_in

pytestmark = pytest.mark.django_db


def login(page, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("analyst")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_the_tsne_map_has_a_point_per_embedded_case(graded_study, analyst_client) -> None:
    study, _, _ = graded_study
    model_version = model_version_active_get(study.task)
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
    study, _, _ = graded_study
    model_version = model_version_active_get(study.task)
    tsne = tsne_map_request(study, model_version)
    tsne_map_compute(tsne_map_id=tsne.pk)
    CnnScore.objects.filter(case__study=study).first().delete()
    assert tsne_map_request(study, model_version).status == InsightStatus.PENDING


def test_the_error_gallery_lists_wrong_calls_and_disagreements(graded_study, analyst_client):
    study, truth, cnn = graded_study
    model_version = model_version_active_get(study.task)
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
    model_version = model_version_active_get(study.task)
    saliency_map_compute(saliency_map_id=saliency_map_request(case, model_version, "top").pk)
    response = analyst_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    # Never cached: its URL does not name the algorithm, which an analyst may switch.
    assert "no-store" in response["Cache-Control"] and "max-age=0" in response["Cache-Control"]
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
def test_the_tsne_map_draws_a_point_per_case_that_a_click_opens_in_chromium(
    graded_study, page, analyst, password, artifacts
) -> None:
    study, _, _ = graded_study
    model_version = model_version_active_get(study.task)
    tsne_map_compute(tsne_map_id=tsne_map_request(study, model_version).pk)
    login(page, password)
    page.goto(f"/analysis/studies/{study.pk}/")
    page.wait_for_selector("#tsne-figure .scatterlayer .point")
    assert page.locator("#tsne-figure .scatterlayer .point").count() == 60
    page.select_option("#tsne-colour", "score")
    page.wait_for_selector("#tsne-figure .colorbar")
    page.locator("#tsne").screenshot(path=str(artifacts / "tsne.png"))
    # A click on a point opens that case's page.
    point = page.locator("#tsne-figure .scatterlayer .point").first
    point.wait_for()
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    caption = page.locator("#tsne-caption").inner_text()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url("**/analysis/cases/*/")
    public_id = page.url.rstrip("/").split("/")[-1]
    case = study.cases.get(public_id=public_id)
    assert page.get_by_role("heading", name=f"Case {case.source_id}").is_visible()
    # The point hovered is the case opened.
    score = CnnScore.objects.get(case=case, model_version=model_version).probability
    assert caption.endswith(f"{case.diagnosis}, CNN {score:.3f}")
    page.screenshot(path=str(artifacts / "analysis-case.png"), full_page=True)


def test_each_tsne_point_links_to_its_case_page(graded_study, analyst_client) -> None:
    study, _, cnn = graded_study
    model_version = model_version_active_get(study.task)
    tsne_map_compute(tsne_map_id=tsne_map_request(study, model_version).pk)
    points = analyst_client.get(f"/analysis/studies/{study.pk}/tsne.json").json()["points"]
    case = study.cases.order_by("position").first()
    point = next(p for p in points if p["case"] == str(case.public_id))
    assert point["url"] == f"/analysis/cases/{case.public_id}/"
    page = analyst_client.get(point["url"]).content.decode()
    assert case.source_id in page
    assert f"{cnn[0]:.3f}" in page  # the CNN's score of the first case
    answers = case.decisions.values("enrolment").distinct().count()
    assert answers == 6 and page.count("badge-simulated") == answers


def test_the_html_report_has_the_tsne_map_once_it_is_computed(graded_study) -> None:
    study, _, _ = graded_study
    assert "t-SNE map" not in export_bytes(study, "html", identities=False).decode()
    model_version = model_version_active_get(study.task)
    tsne_map_compute(tsne_map_id=tsne_map_request(study, model_version).pk)
    html = export_bytes(study, "html", identities=False).decode()
    assert "Inside the CNN: t-SNE map" in html
    case = study.cases.first()
    assert case.source_id in html  # points are named by case
    assert html.count("<script src=") == 0 and html.count("plotly.js v") == 1


def test_the_saliency_estimate_counts_missing_maps_at_the_measured_pace(graded_study) -> None:
    study, _, _ = graded_study
    model_version = model_version_active_get(study.task)
    cases = list(study.cases.order_by("position")[:4])
    first = saliency_estimate(model_version, cases)
    assert (first.pending, first.measured) == (4, False)
    assert first.seconds == 4 * SALIENCY_SECONDS_GUESS
    saliency_map_compute(saliency_map_id=saliency_map_request(cases[0], model_version, "top").pk)
    measured = SaliencyMap.objects.get(case=cases[0]).seconds
    after = saliency_estimate(model_version, cases)
    assert (after.pending, after.measured, after.seconds_each) == (3, True, measured)


@pytest.mark.browser
def test_the_error_gallery_filters_false_negatives_and_false_positives_in_chromium(
    graded_study, page, analyst, password, artifacts
) -> None:
    study, _, _ = graded_study
    login(page, password)
    page.goto(f"/analysis/studies/{study.pk}/errors/")
    estimate = page.locator("#saliency-estimate").inner_text()
    everything = page.locator("#gallery tbody tr").count()
    assert f"{everything} saliency maps of the CNN's top class still to compute" in estimate
    assert "about" in estimate and "first estimate" in estimate
    seen = 0
    for label, truth, call in (
        ("False negatives", "positive", "negative"),
        ("False positives", "negative", "positive"),
    ):
        page.get_by_role("link", name=label).click()
        page.wait_for_url("**/errors/?show=*")
        rows = page.locator("#gallery tbody tr")
        assert rows.count() > 0, label
        assert f"{label} ({rows.count()})" == page.get_by_role("link", name=label).inner_text()
        for n in range(rows.count()):
            cells = rows.nth(n).locator("td")
            assert (cells.nth(3).inner_text(), cells.nth(5).inner_text()) == (truth, call)
        seen += rows.count()
    page.locator("#gallery").screenshot(path=str(artifacts / "gallery-false-positives.png"))
    page.get_by_role("link", name="All").click()
    assert page.locator("#gallery tbody tr").count() == everything >= seen
