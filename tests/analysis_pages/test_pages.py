from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client

from readerstudy.accounts.services import api_token_regenerate
from readerstudy.analysis.figures import figure_json, roc_figure
from readerstudy.analysis.selectors import study_analysis_get
from readerstudy.reading.models import Decision
from readerstudy.stats.formats import read_imrmc, read_long_csv
from readerstudy.stats.roc import auc_ci
from tests.factories import EnrolmentFactory, StudyFactory
from tests.support.session import logged_in

pytestmark = pytest.mark.django_db


def test_the_json_export_matches_the_statistics_of_the_stored_data(
    graded_study, analyst_client
) -> None:
    study, truth, cnn = graded_study
    response = analyst_client.get(f"/analysis/studies/{study.pk}/export/json/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    body = json.loads(response.content)
    assert body["cases_scored"] == body["cases_total"] == 60
    assert body["phase"] == "unaided" and body["study"]["ai_assistance"] == "none"
    assert body["analysis"]["cnn"]["auc"] == pytest.approx(auc_ci(truth, cnn).auc, abs=1e-12)
    readers = body["analysis"]["readers"]
    assert [r["reader"] for r in readers] == [f"R{n:02d}" for n in range(1, 7)]
    assert all(r["simulated"] for r in readers)
    assert body["analysis"]["mrmc"] is not None
    assert body == analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/").json()


def test_the_imrmc_export_read_back_gives_the_same_aucs(graded_study, analyst_client, tmp_path):
    study, _, _ = graded_study
    analysis = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/").json()["analysis"]
    path = tmp_path / "study.imrmc"
    path.write_bytes(analyst_client.get(f"/analysis/studies/{study.pk}/export/imrmc/").content)
    table = read_imrmc(path)
    for reader in analysis["readers"] + [{"reader": "CNN", "auc": analysis["cnn"]["auc"]}]:
        mask = np.asarray([name == reader["reader"] for name in table.reader])
        assert auc_ci(table.truth[mask], table.rating[mask]).auc == pytest.approx(reader["auc"])
    ratings = tmp_path / "ratings.csv"
    ratings.write_bytes(analyst_client.get(f"/analysis/studies/{study.pk}/export/ratings/").content)
    assert len(read_long_csv(ratings).reader) == len(table.reader)


def test_the_decisions_csv_streams_every_revision_and_escapes_formulas(
    graded_study, analyst_client
) -> None:
    study, _, _ = graded_study
    enrolment = study.enrolments.first()
    enrolment.reader.username = '=HYPERLINK("http://evil")'
    enrolment.reader.save()
    response = analyst_client.get(f"/analysis/studies/{study.pk}/export/csv/?identities=1")
    assert response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["decision_id", "reader", "simulated"]
    assert len(rows) - 1 == Decision.objects.filter(enrolment__study=study).count()
    names = {row[1] for row in rows[1:]}
    assert '\'=HYPERLINK("http://evil")' in names
    assert not any(name.startswith("=") for name in names)
    pseudonymised = analyst_client.get(f"/analysis/studies/{study.pk}/export/csv/")
    text = b"".join(pseudonymised.streaming_content).decode()
    assert "HYPERLINK" not in text and ",R01," in text


def test_an_api_client_downloads_every_export_with_its_token(graded_study, analyst) -> None:
    study, _, _ = graded_study
    client = Client(HTTP_AUTHORIZATION=f"Token {api_token_regenerate(user=analyst).key}")
    base = f"/api/v1/analysis/studies/{study.pk}/exports"
    for fmt, content_type in (
        ("csv", "text/csv"),
        ("json", "application/json"),
        ("imrmc", "text/plain"),
        ("ratings", "text/csv"),
        ("html", "text/html"),
    ):
        # A client that asks for the file's own type is answered, not refused with 406.
        response = client.get(f"{base}/{fmt}/", HTTP_ACCEPT=content_type)
        assert response.status_code == 200, (fmt, response.status_code)
        assert response["Content-Type"].split(";")[0] == content_type
        assert response["Content-Disposition"].startswith("attachment;")
        body = (
            b"".join(response.streaming_content) if response.streaming else response.content
        ).decode()
        assert body, fmt
        if fmt == "json":
            assert json.loads(body) == client.get(f"/api/v1/analysis/studies/{study.pk}/").json()
    assert ",R01," in b"".join(client.get(f"{base}/csv/").streaming_content).decode()
    named = b"".join(client.get(f"{base}/csv/?identities=true").streaming_content).decode()
    assert ",sim1," in named
    assert client.get(f"{base}/png/").status_code == 404
    assert Client().get(f"{base}/csv/").status_code == 401


def test_each_reader_point_carries_its_wilson_intervals_as_error_bars(graded_study) -> None:
    study, _, _ = graded_study
    data, analysis = study_analysis_get(study)
    figure = figure_json(roc_figure(data, analysis))
    points = next(t for t in figure["data"] if t["name"] == "Simulated readers")
    rows = {row["reader"]: row for row in analysis.to_dict()["readers"]}
    assert len(points["x"]) == len(rows) == 6
    for n, row in enumerate(rows[name] for name in sorted(rows)):
        sensitivity, specificity = row["sensitivity"], row["specificity"]
        low, high = row["sensitivity_ci"]
        assert points["y"][n] == pytest.approx(sensitivity)
        assert points["error_y"]["array"][n] == pytest.approx(high - sensitivity)
        assert points["error_y"]["arrayminus"][n] == pytest.approx(sensitivity - low)
        low, high = row["specificity_ci"]
        # On the 1 - specificity axis the specificity interval turns around.
        assert points["error_x"]["array"][n] == pytest.approx(specificity - low)
        assert points["error_x"]["arrayminus"][n] == pytest.approx(high - specificity)


def test_the_mrmc_result_says_when_its_panel_is_simulated(graded_study, analyst_client) -> None:
    study, _, _ = graded_study
    analysis = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/").json()["analysis"]
    assert analysis["mrmc_simulated_readers"] == len(analysis["mrmc_readers"]) == 6
    page = analyst_client.get(f"/analysis/studies/{study.pk}/").content.decode()
    assert "Simulated panel:" in page and "all 6 readers in this test are simulated" in page
    report = analyst_client.get(f"/analysis/studies/{study.pk}/export/html/").content.decode()
    assert "all 6 readers in this test are simulated" in report
    # One real dermatologist in the panel: the box says how many are simulated.
    study.enrolments.filter(pseudonym="R01").update(simulated=False)
    page = analyst_client.get(f"/analysis/studies/{study.pk}/").content.decode()
    assert "5 of the 6 readers in this test are simulated" in page
    study.enrolments.update(simulated=False)
    assert (
        "Simulated panel"
        not in analyst_client.get(f"/analysis/studies/{study.pk}/").content.decode()
    )


def test_the_decisions_csv_gives_the_cnn_score_of_each_case(graded_study, analyst_client):
    study, _, cnn = graded_study
    response = analyst_client.get(f"/analysis/studies/{study.pk}/export/csv/")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_case = {
        str(public_id): position
        for public_id, position in study.cases.values_list("public_id", "position")
    }
    positions = sorted(by_case.values())
    assert rows and all(
        float(row["cnn_score"]) == pytest.approx(cnn[positions.index(by_case[row["case"]])])
        for row in rows
    )


def test_the_ratings_csv_maps_its_case_numbers_to_case_ids(graded_study, analyst_client):
    study, _, _ = graded_study
    response = analyst_client.get(f"/analysis/studies/{study.pk}/export/ratings/")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    cases = {
        str(pk): (str(public_id), source_id)
        for pk, public_id, source_id in study.cases.values_list("pk", "public_id", "source_id")
    }
    assert len(rows) > 60
    assert all((row["case_id"], row["source_id"]) == cases[row["case"]] for row in rows)
    # The decisions CSV names cases by the same ids.
    decisions = analyst_client.get(f"/analysis/studies/{study.pk}/export/csv/")
    text = b"".join(decisions.streaming_content).decode()
    assert {row["case"] for row in csv.DictReader(io.StringIO(text))} <= {
        row["case_id"] for row in rows
    }


def test_drafts_without_readers_are_not_listed_under_analyses(
    graded_study, coordinator, analyst_client, reader_a
) -> None:
    study, _, _ = graded_study
    empty_draft = StudyFactory(created_by=coordinator, name="Empty draft", status="draft")
    enrolled_draft = StudyFactory(created_by=coordinator, name="Enrolled draft", status="draft")
    EnrolmentFactory(study=enrolled_draft, reader=reader_a)
    open_without_readers = StudyFactory(created_by=coordinator, name="Open, nobody yet")
    for client in (analyst_client, logged_in(coordinator)):
        page = client.get("/analysis/").content.decode()
        assert study.name in page and enrolled_draft.name in page
        assert open_without_readers.name in page
        assert empty_draft.name not in page


def test_readers_and_other_coordinators_get_404_on_analysis_pages(
    graded_study, reader_a_client, other_coordinator
) -> None:
    study, _, _ = graded_study
    for client in (reader_a_client, logged_in(other_coordinator)):
        for url in (
            f"/analysis/studies/{study.pk}/",
            f"/analysis/studies/{study.pk}/data.json",
            f"/analysis/studies/{study.pk}/export/csv/",
            f"/api/v1/analysis/studies/{study.pk}/",
        ):
            assert client.get(url).status_code == 404, url
    assert reader_a_client.get("/analysis/").status_code == 404


def test_the_html_report_is_one_self_contained_file(graded_study, tmp_path) -> None:
    study, _, _ = graded_study
    out = tmp_path / "report.html"
    call_command("export_report", study.pk, "--format", "html", "--out", str(out))
    html = out.read_text()
    assert "Plotly.newPlot" in html or "Plotly.react" in html
    assert "<script src=" not in html, "nothing may be fetched when the file opens offline"
    assert "R01" in html and "simulated" in html


@pytest.mark.browser
def test_the_analysis_page_draws_the_cnn_curve_and_every_reader_in_chromium(
    graded_study, page, analyst, password, artifacts
) -> None:
    study, _, _ = graded_study
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("analyst")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"/analysis/studies/{study.pk}/")
    page.wait_for_selector("#roc-figure .main-svg")
    # One line for the CNN plus the chance diagonal; one marker per reader.
    assert page.locator("#roc-figure .scatterlayer .trace").count() >= 3
    assert page.locator("#roc-figure .scatterlayer .point").count() >= 6
    assert page.get_by_text("CNN (AUC").first.is_visible()
    assert page.locator("table.readers tbody tr").count() == 6
    # Each reader's Wilson intervals, both ways, and the simulated panel said where the
    # MRMC result is.
    assert page.locator("#roc-figure .errorbar path.yerror").count() == 6
    assert page.locator("#roc-figure .errorbar path.xerror").count() == 6
    assert page.get_by_text("Simulated panel:").is_visible()
    page.screenshot(path=str(artifacts / "analysis-page.png"), full_page=True)


@pytest.mark.slow
def test_export_report_writes_png_and_svg_figures(graded_study, tmp_path) -> None:
    from tests.support.env import chromium_available, require

    require(chromium_available(), "kaleido renders with Chromium")
    study, _, _ = graded_study
    png = tmp_path / "roc.png"
    call_command("export_report", study.pk, "--format", "png", "--out", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_only_the_figure_page_allows_the_empty_style_and_nothing_else(
    graded_study, analyst_client
) -> None:
    from readerstudy.analysis.csp import EMPTY_STYLE_HASH

    study, _, _ = graded_study
    policy = analyst_client.get(f"/analysis/studies/{study.pk}/")["Content-Security-Policy"]
    style = next(d for d in policy.split(";") if d.strip().startswith("style-src")).split()
    assert set(style) == {"style-src", "'self'", "'unsafe-hashes'", EMPTY_STYLE_HASH}
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    other = analyst_client.get("/analysis/")["Content-Security-Policy"]
    assert "unsafe-hashes" not in other
