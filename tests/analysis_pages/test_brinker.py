"""Brinker's per-reader comparison and partial readers on the analysis page, JSON and report."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from readerstudy.analysis.selectors import study_data_get
from readerstudy.reading.models import Decision
from readerstudy.stats.matched import per_reader_comparison

pytestmark = pytest.mark.django_db


def _make_partial(study, pseudonym: str, n_cases: int) -> None:
    """Leave the reader with answers to their first ``n_cases`` cases only (still grading)."""
    kept = list(
        Decision.objects.filter(enrolment__study=study, enrolment__pseudonym=pseudonym)
        .order_by("case__position")
        .values_list("case_id", flat=True)
        .distinct()[:n_cases]
    )
    Decision.objects.filter(enrolment__study=study, enrolment__pseudonym=pseudonym).exclude(
        case_id__in=kept
    ).delete()


def test_the_json_gives_the_cnn_at_each_readers_sensitivity_and_who_it_beat(
    graded_study, analyst_client
) -> None:
    study, truth, cnn = graded_study
    analysis = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/").json()["analysis"]
    want = per_reader_comparison(truth, cnn, study_data_get(study).readers)
    rows = analysis["per_reader_matched"]
    assert [row["reader"] for row in rows] == [f"R{n:02d}" for n in range(1, 7)]
    for row, match in zip(rows, want.readers, strict=True):
        assert row["cnn_specificity_at_sensitivity"] == pytest.approx(
            match.cnn_specificity_at_sensitivity
        )
        assert row["cnn_sensitivity_at_specificity"] == pytest.approx(
            match.cnn_sensitivity_at_specificity
        )
        assert row["outcome"] == match.outcome and row["simulated"] is True
    summary = analysis["matched_summary"]
    assert summary["n_readers"] == 6
    assert [summary[k] for k in ("beat", "tied", "lost")] == [
        want.at_sensitivity.beat,
        want.at_sensitivity.tied,
        want.at_sensitivity.lost,
    ]
    assert summary["mean"] == pytest.approx(want.at_sensitivity.mean)
    assert analysis["partial_readers"] == [] and analysis["include_partial"] is False


def test_the_page_caption_and_report_say_how_many_readers_the_cnn_beat(
    graded_study, analyst_client
) -> None:
    study, _, _ = graded_study
    summary = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/").json()["analysis"][
        "matched_summary"
    ]
    caption = f"The CNN beat {summary['beat']} of 6 readers at their sensitivity"
    page = analyst_client.get(f"/analysis/studies/{study.pk}/").content.decode()
    assert caption in page  # in the figure's title
    assert "CNN specificity at the reader's sensitivity" in page  # the table's column
    assert (
        page.count("CNN beat</td>") + page.count("CNN tied</td>") + page.count("CNN lost</td>") == 6
    )
    report = analyst_client.get(f"/analysis/studies/{study.pk}/export/html/").content.decode()
    assert caption in report
    assert "CNN specificity at each reader's own sensitivity, 6 readers" in report


def test_a_partial_reader_is_listed_but_left_out_unless_asked_for(
    graded_study, analyst_client
) -> None:
    study, _, _ = graded_study
    _make_partial(study, "R06", 40)
    api = f"/api/v1/analysis/studies/{study.pk}/"
    analysis = analyst_client.get(api).json()["analysis"]
    assert analysis["partial_readers"] == ["R06"]
    assert [r["reader"] for r in analysis["readers"] if r["partial"]] == ["R06"]
    assert analysis["average_reader"]["n_readers"] == 5
    assert analysis["brinker"]["n_readers"] == 5
    assert analysis["matched_summary"]["n_readers"] == 5
    assert "R06" not in [row["reader"] for row in analysis["per_reader_matched"]]
    assert len(analysis["mrmc_readers"]) == 5

    page = analyst_client.get(f"/analysis/studies/{study.pk}/").content.decode()
    assert "1 of them has not graded every case" in page
    assert "left out (partial)" in page
    assert "of 5 readers at their sensitivity" in page and "1 partial reader left out" in page
    report = analyst_client.get(f"/analysis/studies/{study.pk}/export/html/").content.decode()
    assert "1 of them did not grade every case" in report and "left out (partial)" in report
    assert "of 5 readers at their sensitivity" in report

    included = analyst_client.get(f"{api}?partial=1").json()["analysis"]
    assert included["include_partial"] is True
    assert included["average_reader"]["n_readers"] == 6
    assert included["matched_summary"]["n_readers"] == 6
    assert included["per_reader_matched"][-1] == {
        **included["per_reader_matched"][-1],
        "reader": "R06",
        "n_cases": 40,
    }
    assert included["mrmc_readers"] == analysis["mrmc_readers"]  # MRMC never takes them
    page = analyst_client.get(f"/analysis/studies/{study.pk}/?partial=1").content.decode()
    assert "of 6 readers at their sensitivity" in page
    assert "export/json/?partial=1" in page  # the exports follow the page's choice
    exported = analyst_client.get(f"/analysis/studies/{study.pk}/export/json/?partial=1").json()
    assert exported["analysis"]["matched_summary"]["n_readers"] == 6


def test_export_report_counts_partial_readers_only_when_asked(graded_study, tmp_path) -> None:
    study, _, _ = graded_study
    _make_partial(study, "R06", 40)
    out = tmp_path / "analysis.json"
    for flags, n_readers in (([], 5), (["--partial"], 6)):
        call_command("export_report", study.pk, "--format", "json", "--out", str(out), *flags)
        analysis = json.loads(out.read_text())["analysis"]
        assert analysis["matched_summary"]["n_readers"] == n_readers
        assert analysis["partial_readers"] == ["R06"]


def test_reader_names_replace_pseudonyms_in_the_per_reader_comparison(
    graded_study, analyst_client
) -> None:
    study, _, _ = graded_study
    _make_partial(study, "R06", 40)
    analysis = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/?identities=1").json()[
        "analysis"
    ]
    assert [row["reader"] for row in analysis["per_reader_matched"]] == [
        f"sim{n}" for n in range(1, 6)
    ]
    assert analysis["partial_readers"] == ["sim6"]
