"""The AI-assistance page of an AI-assisted study: unaided against aided reading, the
switching tables against the AI as shown, faulty-AI cases apart, and the exports that carry
both phases back into ``manage.py analyze``."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import call_command

from readerstudy.analysis.aided import aided_analysis, aided_analysis_get
from readerstudy.analysis.aided_data import aided_data_get
from readerstudy.stats.aided_diagnosis import aided_diagnosis
from readerstudy.stats.aided_mrmc import aided_mrmc
from readerstudy.stats.switching import switching_analysis
from readerstudy.studies.models import Enrolment
from readerstudy.studies.services import reader_profile_save
from tests.factories import StudyFactory
from tests.support.aided import _aided_cases, build_aided_panel_study, build_tiny_aided_study
from tests.support.browser import browser_login

pytestmark = pytest.mark.django_db


def _cell(switching: dict, reader_correct: bool, ai_correct: bool) -> dict:
    return next(
        c
        for c in switching["pooled"]["cells"]
        if c["reader_correct"] is reader_correct and c["ai_correct"] is ai_correct
    )


@pytest.mark.parametrize("design", ["sequential", "crossover"])
def test_the_switching_table_counts_readings_against_the_ai_as_shown(coordinator, design) -> None:
    """Counted by hand from TINY_DECISIONS: case 1 is faulty, so the AI shown (0.88, "mel")
    is wrong on a nevus the CNN (0.12) got right. A crossover study's two sessions are
    compared the same way."""
    tiny = build_tiny_aided_study(coordinator=coordinator, ai_assistance=design)
    _, result = aided_analysis_get(tiny.study)
    switching = result["questions"]["management"]["switching"]
    # (n, switched, right when aided) per cell.
    expected = {(True, True): (2, 0, 2), (True, False): (5, 1, 4), (False, True): (1, 1, 1)}
    expected[(False, False)] = (4, 1, 1)
    for (reader_correct, ai_correct), (n, switched, aided_correct) in expected.items():
        cell = _cell(switching, reader_correct, ai_correct)
        assert (cell["n"], cell["switched"], cell["aided_correct"]) == (n, switched, aided_correct)
    assert (switching["misled"]["events"], switching["misled"]["opportunities"]) == (1, 5)
    assert (switching["helped"]["events"], switching["helped"]["opportunities"]) == (1, 1)
    assert switching["ai_correct_cases"] == 1
    per_reader = {row["reader"]: row["table"] for row in switching["per_reader"]}
    assert (per_reader["R01"]["misled"]["successes"], per_reader["R01"]["misled"]["total"]) == (
        1,
        2,
    )
    assert (per_reader["R02"]["helped"]["successes"], per_reader["R02"]["helped"]["total"]) == (
        1,
        1,
    )
    # The faulty case alone: R01 followed the inverted output, R02 kept, R03 was wrong anyway.
    faulty = result["questions"]["management"]["faulty_switching"]
    assert (faulty["misled"]["events"], faulty["misled"]["opportunities"]) == (1, 2)
    assert faulty["helped"]["opportunities"] == 0
    panel = result["questions"]["management"]["faulty_accuracy"]["panel"]
    assert panel["faulty"]["cases"] == 1 and panel["other"]["cases"] == 3
    assert panel["faulty"]["unaided"]["mean"] == pytest.approx(2 / 3)
    assert panel["faulty"]["aided"]["mean"] == pytest.approx(1 / 3)
    assert panel["other"]["unaided"]["mean"] == pytest.approx((2 / 3 + 1 / 3 + 2 / 3) / 3)
    assert panel["other"]["aided"]["mean"] == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    assert result["faulty_cases"] == 1


def test_the_page_numbers_are_the_statistics_of_the_stored_answers(
    coordinator, analyst_client
) -> None:
    built = build_aided_panel_study(coordinator=coordinator)
    study = built.study
    body = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/aided/").json()
    names = [f"R{n:02d}" for n in range(1, 7)]
    assert body["readers"] == names and body["partial_readers"] == []
    for metric, source in (
        ("auc", built.ratings),
        ("sensitivity", built.decisions),
        ("specificity", built.decisions),
    ):
        expected = aided_mrmc(
            built.truth,
            source["unaided"].astype(float),
            source["aided"].astype(float),
            metric=metric,
            readers=names,
        )
        block = body["mrmc"]["blocks"][metric]
        assert block["mean_change"] == pytest.approx(expected.mean_change, abs=1e-12)
        assert block["rrrc"]["ci"] == pytest.approx(list(expected.rrrc.ci), abs=1e-12)
        assert block["rrrc"]["p"] == pytest.approx(expected.rrrc.p, abs=1e-12)
        assert [r["change"] for r in block["reader_changes"]] == pytest.approx(
            [r.change for r in expected.reader_changes], abs=1e-12
        )
    truth = built.truth.astype(bool)
    shown = np.where(built.faulty, 1 - built.cnn, built.cnn).round(3)
    expected = switching_analysis(
        built.decisions["unaided"] == truth,
        (shown >= 0.5) == truth,
        built.decisions["aided"] == truth,
        built.decisions["unaided"] != built.decisions["aided"],
        readers=names,
    )
    switching = body["questions"]["management"]["switching"]
    assert switching["misled"]["estimate"] == pytest.approx(expected.misled.estimate)
    assert switching["misled"]["ci"] == pytest.approx(list(expected.misled.ci))
    assert switching["helped"]["ci"] == pytest.approx(list(expected.helped.ci))
    # Simulated with automation bias 0.5: the faulty cases mislead.
    assert body["questions"]["management"]["faulty_switching"]["misled"]["events"] > 0
    assert body["experience"]["unavailable"] == "no reader profiles"
    assert body["diagnosis"] is None

    page = analyst_client.get(f"/analysis/studies/{study.pk}/aided/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "No analysis by experience: no reader profiles." in html
    assert 'id="mrmc-auc"' in html and 'id="faulty-management"' in html
    # Changes in accuracy are printed in percent, as the accuracies beside them.
    panel = body["questions"]["management"]["faulty_accuracy"]["panel"]
    for row in ("faulty", "other"):
        change = panel[row]["change"]["mean"]
        assert (
            f'{100 * panel[row]["aided"]["mean"]:.1f}%</td><td class="num">{100 * change:.1f}% ('
            in html
        )
    figures = page.context["figures"]
    arrows = figures["roc"]["layout"]["annotations"]
    assert len(arrows) == 6
    points = {p["reader"]: p for p in body["points"]}
    first = points["R01"]
    assert arrows[0]["ax"] == pytest.approx(1 - first["unaided"]["specificity"])
    assert arrows[0]["y"] == pytest.approx(first["aided"]["sensitivity"])
    # The CNN's curve is the first trace: truth against its probability.
    assert figures["roc"]["data"][0]["name"].startswith("CNN alone")
    analysis_page = analyst_client.get(f"/analysis/studies/{study.pk}/").content.decode()
    assert f"/analysis/studies/{study.pk}/aided/" in analysis_page


def test_partial_readers_are_left_out_of_mrmc_and_named(coordinator, analyst_client) -> None:
    built = build_aided_panel_study(coordinator=coordinator, n_readers=3, partial=1)
    body = analyst_client.get(f"/api/v1/analysis/studies/{built.study.pk}/aided/").json()
    assert body["readers"] == ["R01", "R02", "R03"]
    assert body["partial_readers"] == [
        {"reader": "R04", "simulated": True, "unaided": 30, "aided": 30}
    ]
    assert body["mrmc"]["blocks"]["auc"]["readers"] == ["R01", "R02", "R03"]
    opportunities = body["questions"]["management"]["switching"]["misled"]["opportunities"]
    with_partial = analyst_client.get(
        f"/api/v1/analysis/studies/{built.study.pk}/aided/?partial=true"
    ).json()
    assert with_partial["mrmc"]["blocks"]["auc"]["readers"] == ["R01", "R02", "R03"]
    counted = with_partial["questions"]["management"]["switching"]
    assert [r["reader"] for r in counted["per_reader"]] == ["R01", "R02", "R03", "R04"]
    assert counted["misled"]["opportunities"] >= opportunities
    page = analyst_client.get(f"/analysis/studies/{built.study.pk}/aided/").content.decode()
    assert "R04 (30 unaided, 30 aided)" in page


def test_only_staff_who_may_see_the_study_open_its_ai_assistance_analysis(
    coordinator, other_coordinator, reader_a_client, analyst_client, client
) -> None:
    from tests.support.session import logged_in

    built = build_tiny_aided_study(coordinator=coordinator)
    page = f"/analysis/studies/{built.study.pk}/aided/"
    api = f"/api/v1/analysis/studies/{built.study.pk}/aided/"
    assert analyst_client.get(page).status_code == 200
    assert logged_in(coordinator).get(api).status_code == 200
    for url in (page, api):
        assert logged_in(other_coordinator).get(url).status_code == 404
        assert reader_a_client.get(url).status_code == 404
    assert client.get(page).status_code == 302
    assert client.get(api).status_code in (401, 403)
    # A study read unaided only has nothing to compare, and its ROC page no link here.
    unaided = StudyFactory(created_by=coordinator)
    html = analyst_client.get(f"/analysis/studies/{unaided.pk}/aided/").content.decode()
    assert "read unaided only" in html and "aided-figure" not in html
    body = analyst_client.get(f"/api/v1/analysis/studies/{unaided.pk}/aided/").json()
    assert body["study"]["ai_assistance"] == "none" and "unaided only" in body["unavailable"]
    assert (
        "aided-link" not in analyst_client.get(f"/analysis/studies/{unaided.pk}/").content.decode()
    )


def test_benefit_by_experience_uses_the_readers_bands(coordinator) -> None:
    built = build_aided_panel_study(coordinator=coordinator)
    data = aided_data_get(built.study)
    bands = dict(zip(data.readers, ["<3", "<3", "3-10", "3-10", ">10", None], strict=True))
    result = aided_analysis(data, bands=bands, n_bootstrap=200)
    block = result["experience"]
    assert block["unavailable"] is None and block["without_profile"] == 1
    assert block["measure"] == "AUC"
    changes = {r["reader"]: r["change"] for r in result["mrmc"]["blocks"]["auc"]["reader_changes"]}
    low = next(b for b in block["result"]["bands"] if b["band"] == "<3")
    assert low["change"]["mean"] == pytest.approx((changes["R01"] + changes["R02"]) / 2)


def test_the_ratings_exports_carry_both_phases_back_into_analyze(
    coordinator, analyst_client, tmp_path
) -> None:
    built = build_aided_panel_study(coordinator=coordinator, n_readers=4, partial=1)
    study = built.study
    body = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/aided/").json()
    auc = body["mrmc"]["blocks"]["auc"]
    for fmt, name in (("ratings", "ratings.csv"), ("imrmc", "ratings.imrmc")):
        path = tmp_path / name
        path.write_bytes(analyst_client.get(f"/analysis/studies/{study.pk}/export/{fmt}/").content)
        out = tmp_path / f"{fmt}.json"
        call_command("analyze", ratings=str(path), json_out=str(out), stdout=io.StringIO())
        result = json.loads(out.read_text())
        assert set(result["modalities"]) == {"aided", "unaided"}
        # The modalities sort as aided, unaided: the difference is aided minus unaided.
        assert result["or"]["modalities"] == ["aided", "unaided"]
        assert result["or"]["rrrc"]["diff"] == pytest.approx(auc["mean_change"], abs=1e-12)
        assert result["or"]["rrrc"]["ci"] == pytest.approx(auc["rrrc"]["ci"], abs=1e-12)
        assert result["or"]["rrrc"]["p"] == pytest.approx(auc["rrrc"]["p"], abs=1e-12)
        assert result["modalities"]["unaided"]["mean_auc"] == pytest.approx(auc["mean_unaided"])
        assert sorted(result["modalities"]["aided"]["reader_auc"]) == ["R01", "R02", "R03", "R04"]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "ratings.csv").read_text())))
    assert {row["modality"] for row in rows} == {"unaided", "aided"}
    assert len(rows) == 2 * 4 * len(built.cases)
    # The decisions CSV names each answer's phase.
    response = analyst_client.get(f"/analysis/studies/{study.pk}/export/csv/")
    decisions = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {row["phase"] for row in decisions} == {"unaided", "aided"}
    assert sum(row["phase"] == "aided" for row in decisions) == 4 * 60 + 30


def test_a_diagnosis_study_switches_on_the_classes_against_the_shown_top_class(
    coordinator, analyst_client
) -> None:
    """Counted by hand from TINY_CLASSES: on the faulty case the AI showed the CNN's least
    likely class, and only a switch to that class counts as misled."""
    tiny = build_tiny_aided_study(coordinator=coordinator, diagnosis=True)
    body = analyst_client.get(f"/api/v1/analysis/studies/{tiny.study.pk}/aided/").json()
    switching = body["questions"]["diagnosis"]["switching"]
    expected = {(True, True): (2, 0, 2), (True, False): (5, 1, 4), (False, True): (1, 1, 1)}
    expected[(False, False)] = (4, 2, 1)
    for (reader_correct, ai_correct), (n, switched, aided_correct) in expected.items():
        cell = _cell(switching, reader_correct, ai_correct)
        assert (cell["n"], cell["switched"], cell["aided_correct"]) == (n, switched, aided_correct)
    assert (switching["misled"]["events"], switching["misled"]["opportunities"]) == (1, 5)
    assert (switching["helped"]["events"], switching["helped"]["opportunities"]) == (1, 1)
    # The management question is analysed alongside, as in the management study.
    assert body["questions"]["management"]["switching"]["misled"]["events"] == 1

    data = aided_data_get(tiny.study)
    truth = np.asarray(["mel", "nv", "mel", "nv"], dtype=object)
    expected_diagnosis = aided_diagnosis(
        truth,
        data.diagnosis["unaided"],
        data.diagnosis["aided"],
        data.classes,
        readers=["R01", "R02", "R03"],
    )
    block = body["diagnosis"]
    assert block["accuracy"]["unaided"] == pytest.approx(expected_diagnosis.accuracy.unaided)
    assert block["accuracy"]["aided"] == pytest.approx(expected_diagnosis.accuracy.aided)
    assert block["accuracy"]["change"]["ci"] == pytest.approx(
        list(expected_diagnosis.accuracy.change.ci)
    )
    assert block["mean_recall"]["change"]["mean"] == pytest.approx(
        expected_diagnosis.mean_recall.change.mean
    )
    assert block["accuracy"]["unaided"] == pytest.approx((3 / 4 + 2 / 4 + 2 / 4) / 3)
    html = analyst_client.get(f"/analysis/studies/{tiny.study.pk}/aided/").content.decode()
    assert 'id="aided-diagnosis"' in html and 'id="switching-diagnosis"' in html


def _profile(study, profiles: dict[str, tuple[str, str]]) -> None:
    for pseudonym, (position, experience) in profiles.items():
        reader_profile_save(
            enrolment=Enrolment.objects.get(study=study, pseudonym=pseudonym),
            position=position,
            experience=experience,
        )


def test_the_ai_assistance_analysis_of_a_subgroup_counts_only_its_readers(
    coordinator, analyst_client
) -> None:
    """Counted by hand from TINY_DECISIONS for R01 and R03 alone: R01 switched away from a
    right answer on the faulty case (misled), R03 never changed; R02's help on case 0 and
    switch on case 3 are not theirs."""
    tiny = build_tiny_aided_study(coordinator=coordinator)
    study = tiny.study
    _profile(
        study,
        {"R01": ("attending", ">10"), "R02": ("resident", "<3"), "R03": ("attending", "3-10")},
    )
    api = f"/api/v1/analysis/studies/{study.pk}/aided/"
    body = analyst_client.get(api, {"position": "attending"}).json()
    assert body["readers"] == ["R01", "R03"]
    assert body["subgroup"] == {
        "position": "attending",
        "label": "Attending (consultant) dermatologist",
    }
    assert body["mrmc"]["blocks"]["auc"]["readers"] == ["R01", "R03"]
    switching = body["questions"]["management"]["switching"]
    expected = {(True, True): (2, 0, 2), (True, False): (3, 1, 2), (False, False): (3, 0, 0)}
    for (reader_correct, ai_correct), (n, switched, aided_correct) in expected.items():
        cell = _cell(switching, reader_correct, ai_correct)
        assert (cell["n"], cell["switched"], cell["aided_correct"]) == (n, switched, aided_correct)
    assert _cell(switching, False, True)["n"] == 0
    assert (switching["misled"]["events"], switching["misled"]["opportunities"]) == (1, 3)
    assert switching["helped"]["opportunities"] == 0
    assert [p["reader"] for p in body["points"]] == ["R01", "R03"]
    # Every reader without the filter, as before.
    assert analyst_client.get(api).json()["readers"] == ["R01", "R02", "R03"]

    page = analyst_client.get(f"/analysis/studies/{study.pk}/aided/?position=attending")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Subgroup: Attending (consultant) dermatologist" in html
    assert '<option value="attending" selected>' in html
    # The export links (and the JSON of the analysis) keep the subgroup.
    assert f"/api/v1/analysis/studies/{study.pk}/aided/?position=attending" in html
    assert f"/analysis/studies/{study.pk}/export/ratings/?position=attending" in html
    roc = page.context["figures"]["roc"]
    assert len(roc["layout"]["annotations"]) == 2
    assert "readers (Attending (consultant) dermatologist)" in roc["layout"]["title"]["text"]
    # The ratings of both phases, of the subgroup's readers alone.
    ratings = analyst_client.get(f"/analysis/studies/{study.pk}/export/ratings/?position=attending")
    rows = list(csv.DictReader(io.StringIO(ratings.content.decode())))
    assert {row["reader"] for row in rows} == {"R01", "R03"}
    assert len(rows) == 2 * 2 * len(tiny.cases)
    # The ROC page's link carries its subgroup to this page.
    roc_page = analyst_client.get(f"/analysis/studies/{study.pk}/?position=attending")
    assert f"/analysis/studies/{study.pk}/aided/?position=attending" in roc_page.content.decode()


def test_benefit_by_experience_of_one_band_shows_that_band_alone(
    coordinator, analyst_client
) -> None:
    built = build_aided_panel_study(coordinator=coordinator)
    study = built.study
    bands = ["<3", "<3", "3-10", "3-10", ">10", ">10"]
    _profile(study, {f"R{n:02d}": ("resident", band) for n, band in enumerate(bands, start=1)})
    body = analyst_client.get(
        f"/api/v1/analysis/studies/{study.pk}/aided/", {"experience": "<3"}
    ).json()
    assert body["readers"] == ["R01", "R02"]
    expected = aided_mrmc(
        built.truth,
        built.ratings["unaided"][:2].astype(float),
        built.ratings["aided"][:2].astype(float),
        metric="auc",
        readers=["R01", "R02"],
    )
    auc = body["mrmc"]["blocks"]["auc"]
    assert auc["mean_change"] == pytest.approx(expected.mean_change, abs=1e-12)
    block = body["experience"]
    assert block["bands"] == ["<3"] and block["without_profile"] == 0
    (band,) = block["result"]["bands"]
    assert band["band"] == "<3" and band["change"]["n"] == 2
    assert band["change"]["mean"] == pytest.approx(expected.mean_change, abs=1e-12)
    assert block["result"]["trend"] is None and block["result"]["jonckheere"] is None
    assert block["trend_unavailable"] == "the readers are all in one experience band"
    # Every band, and their trend, without the filter.
    everyone = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/aided/").json()
    assert [b["change"]["n"] for b in everyone["experience"]["result"]["bands"]] == [2, 2, 2]
    assert everyone["experience"]["result"]["trend"]["n"] == 6

    page = analyst_client.get(f"/analysis/studies/{study.pk}/aided/?experience=%3C3")
    html = page.content.decode()
    assert "Subgroup: Dermoscopy experience less than 3 years" in html
    assert 'id="experience-one-band"' in html and "Jonckheere" not in html
    experience = page.context["figures"]["experience"]
    assert experience["layout"]["xaxis"]["categoryarray"] == ["under 3"]


def test_a_subgroup_outside_the_choices_is_refused_and_an_empty_one_says_so(
    coordinator, analyst_client
) -> None:
    """As on the ROC and diagnosis pages: a 400 naming the parameter (the API in DRF's
    field errors, the page in words), and a message where no reader belongs."""
    tiny = build_tiny_aided_study(coordinator=coordinator)
    study = tiny.study
    _profile(study, {"R01": ("attending", ">10")})
    api = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/aided/?position=chief")
    assert api.status_code == 400 and list(api.json()) == ["position"]
    page = analyst_client.get(f"/analysis/studies/{study.pk}/aided/?experience=11")
    assert page.status_code == 400
    assert "experience: " in page.content.decode() and "choose one of" in page.content.decode()
    empty = analyst_client.get(f"/analysis/studies/{study.pk}/aided/?position=resident")
    assert empty.status_code == 200 and 'id="subgroup-empty"' in empty.content.decode()
    body = analyst_client.get(
        f"/api/v1/analysis/studies/{study.pk}/aided/", {"position": "resident"}
    ).json()
    assert body["readers"] == [] and body["partial_readers"] == []
    assert body["mrmc"]["unavailable"].startswith("needs two readers")


@pytest.mark.browser
def test_the_ai_assistance_page_draws_each_reader_as_an_arrow_in_chromium(
    coordinator, page, analyst, password, artifacts
) -> None:
    """Under the strict CSP (the page fixture fails on any console error or violation)."""
    built = build_aided_panel_study(coordinator=coordinator)
    browser_login(page, "analyst", password)
    page.goto(f"/analysis/studies/{built.study.pk}/")
    page.locator("#aided-link").click()
    page.wait_for_selector("#aided-figure .main-svg")
    assert page.locator("#aided-figure .annotation-arrow-g").count() == 6
    assert page.get_by_text("CNN alone (AUC").first.is_visible()
    assert page.locator("#mrmc-auc td").count() == 4
    assert page.get_by_text("No analysis by experience: no reader profiles.").is_visible()
    # Every interval and "< 0.001" stays on one line, in the narrow columns of the MRMC and
    # per-reader tables too (they split "0.849-" from "0.918" before).
    lines = page.locator("main .nowrap").evaluate_all(
        "spans => spans.map(s => [s.textContent, s.getClientRects().length])"
    )
    assert len(lines) > 20
    assert [text for text, rects in lines if rects != 1] == []
    page.screenshot(path=str(artifacts / "aided-analysis-page.png"), full_page=True)


def test_a_switching_row_without_readings_says_so_instead_of_zero_of_zero() -> None:
    """On faulty-AI cases the AI as shown is rarely right, so "helped" can have no readings at
    all: the row says that, not "0 of 0 = - (95% CI -)"."""
    from django.template.loader import render_to_string

    switching = {
        "pooled": {"cells": []},
        "misled": {"events": 128, "opportunities": 295, "estimate": 0.434, "ci": [0.278, 0.611]},
        "helped": {"events": 0, "opportunities": 0, "estimate": None, "ci": [None, None]},
        "cases": 20,
        "ai_correct_cases": 0,
        "n_bootstrap": 2000,
        "per_reader": [],
    }
    html = render_to_string("analysis/_aided_switching.html", {"switching": switching})
    assert "128 of 295 = 43.4%" in html
    assert "0 of 0" not in html
    assert "no such readings: no reader was wrong unaided where the AI shown was right" in html


def test_the_html_report_of_an_aided_study_carries_the_ai_assistance_analysis(
    coordinator, analyst_client
) -> None:
    """The report says its ROC analysis is of the unaided answers, and adds the comparison
    with the aided ones (MRMC, switching, faulty-AI cases), with the page's numbers."""
    built = build_aided_panel_study(coordinator=coordinator)
    study = built.study
    body = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/aided/").json()
    report = analyst_client.get(f"/analysis/studies/{study.pk}/export/html/").content.decode()
    assert 'id="unaided-scope"' in report and "final unaided decisions" in report
    assert "<h2>AI assistance: scope</h2>" in report
    for metric, block in body["mrmc"]["blocks"].items():
        row = report[report.index(f'id="mrmc-{metric}"') :]
        row = row[: row.index("</tr>")]
        assert f"{block['mean_change']:.3f}" in row
    switching = body["questions"]["management"]["switching"]
    misled = switching["misled"]
    assert f"{misled['events']} of {misled['opportunities']} = " in report
    assert 'id="faulty-management"' in report
    # The arrows figure is drawn in the file, with the report's one copy of plotly.js.
    assert report.count("plotly.js v") == 1
    assert "each arrow runs from a reader" in report
    assert 'href="?"' not in report
    # The ROC page and its JSON say the same about their answers.
    page = analyst_client.get(f"/analysis/studies/{study.pk}/").content.decode()
    assert 'id="unaided-scope"' in page and "final unaided decisions" in page
    analysis = analyst_client.get(f"/analysis/studies/{study.pk}/export/json/").json()
    assert analysis["phase"] == "unaided"
    assert analysis["study"]["ai_assistance"] == "sequential"


def test_the_html_report_of_an_unaided_study_has_no_ai_assistance_section(
    graded_study, analyst_client
) -> None:
    study, _, _ = graded_study
    report = analyst_client.get(f"/analysis/studies/{study.pk}/export/html/")
    text = report.content.decode()
    assert report.status_code == 200
    assert "AI assistance" not in text and "unaided" not in text


def test_the_html_report_of_an_aided_study_before_any_answer_says_what_is_missing(
    coordinator, analyst_client
) -> None:
    study, _ = _aided_cases(coordinator, [1, 0, 1, 0], [0.8, 0.3, 0.6, 0.1], [False] * 4)
    report = analyst_client.get(f"/analysis/studies/{study.pk}/export/html/")
    assert report.status_code == 200
    text = report.content.decode()
    assert "<h2>AI assistance: scope</h2>" in text
    assert "0 readers answered every scored case in both phases" in text
    assert "No reader has answered a case in both phases yet." in text
