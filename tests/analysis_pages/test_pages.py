from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client

from readerstudy.accounts.services import api_token_regenerate
from readerstudy.analysis.formats import read_imrmc, read_long_csv
from readerstudy.analysis.roc import auc_ci
from readerstudy.reading.models import Decision
from tests.conftest import logged_in

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
