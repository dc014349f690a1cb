"""Analyses restricted to a subgroup of readers by their profile (``?position=attending``,
``?experience=>10``), the subgroup lines side by side (Brinker et al. 2019's attendings row),
the readers CSV, and refusals of a filter value that is not one of the choices."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from readerstudy.analysis.selectors import study_data_get
from readerstudy.stats.operating_points import (
    sensitivity_at_specificity,
    specificity_at_sensitivity,
)
from readerstudy.studies.models import Enrolment
from readerstudy.studies.services import reader_profile_save

pytestmark = pytest.mark.django_db

PROFILES = {
    "R01": ("attending", True, ">10"),
    "R02": ("attending", True, ">10"),
    "R03": ("resident", False, "<3"),
    "R04": ("resident", False, "3-10"),
    "R05": ("other_physician", None, "3-10"),
    # R06 has no profile: counted among all readers only.
}


@pytest.fixture
def profiled_study(graded_study):
    study, truth, cnn = graded_study
    for pseudonym, (position, certified, experience) in PROFILES.items():
        reader_profile_save(
            enrolment=Enrolment.objects.get(study=study, pseudonym=pseudonym),
            position=position,
            board_certified=certified,
            experience=experience,
        )
    return study, truth, cnn


def _by_hand(study, truth, pseudonyms):
    """Each reader's sensitivity and specificity from their decisions, and the means."""
    rates = []
    for reader in study_data_get(study).readers:
        if reader.reader in pseudonyms:
            positive = truth[reader.case_index] == 1
            rates.append((reader.decision[positive].mean(), (~reader.decision[~positive]).mean()))
    sensitivity, specificity = np.mean(rates, axis=0)
    return len(rates), float(sensitivity), float(specificity)


def test_the_api_restricted_to_attendings_averages_exactly_their_readers(
    profiled_study, analyst_client
):
    study, truth, cnn = profiled_study
    body = analyst_client.get(
        f"/api/v1/analysis/studies/{study.pk}/", {"position": "attending"}
    ).json()
    analysis = body["analysis"]
    assert [row["reader"] for row in analysis["readers"]] == ["R01", "R02"]
    assert body["subgroup"]["position"] == "attending" and body["subgroup"]["n_readers"] == 2
    n, sensitivity, specificity = _by_hand(study, truth, {"R01", "R02"})
    assert analysis["average_reader"]["n_readers"] == n == 2
    assert analysis["average_reader"]["sensitivity"] == pytest.approx(sensitivity)
    assert analysis["average_reader"]["specificity"] == pytest.approx(specificity)
    assert analysis["brinker"]["target"] == pytest.approx(sensitivity)
    assert analysis["brinker"]["cnn_value"] == pytest.approx(
        specificity_at_sensitivity(truth, cnn, sensitivity)[0]
    )
    # The CNN is the same on the same cases.
    everyone = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/").json()["analysis"]
    assert analysis["cnn"]["auc"] == everyone["cnn"]["auc"]
    assert len(everyone["readers"]) == 6
    assert everyone["average_reader"]["sensitivity"] != pytest.approx(sensitivity)


def test_position_and_experience_combine(profiled_study, analyst_client):
    study, _, _ = profiled_study
    body = analyst_client.get(
        f"/api/v1/analysis/studies/{study.pk}/?position=resident&experience=%3C3"
    ).json()
    assert [row["reader"] for row in body["analysis"]["readers"]] == ["R03"]
    by_band = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/?experience=3-10").json()
    assert [row["reader"] for row in by_band["analysis"]["readers"]] == ["R04", "R05"]


def test_the_subgroup_lines_are_each_groups_average_reader_and_the_cnn_there(
    profiled_study, analyst_client
):
    study, truth, cnn = profiled_study
    lines = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/").json()["subgroup_lines"]
    assert [(line["parameter"], line["value"], line["n_readers"]) for line in lines] == [
        (None, None, 6),
        ("position", "attending", 2),
        ("position", "resident", 2),
        ("position", "other_physician", 1),
        ("experience", "<3", 1),
        ("experience", "3-10", 2),
        ("experience", ">10", 2),
    ]
    groups = {
        ("position", "attending"): {"R01", "R02"},
        ("position", "resident"): {"R03", "R04"},
        ("experience", "3-10"): {"R04", "R05"},
        (None, None): {f"R0{n}" for n in range(1, 7)},
    }
    for line in lines:
        members = groups.get((line["parameter"], line["value"]))
        if members is None:
            continue
        _, sensitivity, specificity = _by_hand(study, truth, members)
        assert line["sensitivity"] == pytest.approx(sensitivity)
        assert line["specificity"] == pytest.approx(specificity)
        assert line["cnn_specificity_at_sensitivity"] == pytest.approx(
            specificity_at_sensitivity(truth, cnn, sensitivity)[0]
        )
        assert line["cnn_sensitivity_at_specificity"] == pytest.approx(
            sensitivity_at_specificity(truth, cnn, specificity)[0]
        )
    # The attendings' line is the attendings-only analysis' Brinker comparison.
    attendings = analyst_client.get(
        f"/api/v1/analysis/studies/{study.pk}/?position=attending"
    ).json()["analysis"]["brinker"]
    assert lines[1]["cnn_specificity_at_sensitivity"] == pytest.approx(attendings["cnn_value"])
    page = analyst_client.get(f"/analysis/studies/{study.pk}/").content.decode()
    assert 'id="subgroups"' in page
    assert 'data-position="attending"' in page and 'data-experience="&gt;10"' in page
    assert "Attending (consultant) dermatologist" in page


def test_the_page_restricted_by_experience_says_so(profiled_study, analyst_client):
    study, _, _ = profiled_study
    page = analyst_client.get(f"/analysis/studies/{study.pk}/?experience=%3E10")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Subgroup: Dermoscopy experience more than 10 years" in text
    assert "2 of 6 readers" in text
    # The decisions counted are the subgroup's, as the readers beside them (it counted all).
    assert "120 final decisions by 2 readers" in text
    assert "experience=%3E10" in text  # the export links keep the subgroup
    report = analyst_client.get(f"/analysis/studies/{study.pk}/export/html/?experience=%3E10")
    assert "Subgroup: Dermoscopy experience more than 10 years" in report.content.decode()
    assert "120 final decisions by 2 readers" in report.content.decode()
    assert "Readers by position and experience" in report.content.decode()
    data = analyst_client.get(f"/analysis/studies/{study.pk}/data.json?experience=%3E10")
    assert data.status_code == 200 and data.json()["fingerprint"].endswith("experience=%3E10")


def test_an_empty_subgroup_shows_the_cnn_alone_with_a_message(profiled_study, analyst_client):
    study, _, _ = profiled_study
    page = analyst_client.get(f"/analysis/studies/{study.pk}/?position=non_physician")
    assert page.status_code == 200
    assert 'id="subgroup-empty"' in page.content.decode()
    body = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/?position=non_physician").json()
    assert body["analysis"]["readers"] == [] and body["analysis"]["brinker"] is None
    assert body["analysis"]["average_reader"]["n_readers"] == 0
    report = analyst_client.get(f"/analysis/studies/{study.pk}/export/html/?position=non_physician")
    assert report.status_code == 200
    assert "no reader belongs to it, so the CNN is shown alone" in report.content.decode()


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("experience=11", "experience"),
        ("position=chief", "position"),
        ("experience=>11", "experience"),
    ],
)
def test_a_filter_value_outside_the_choices_is_a_400_naming_the_parameter(
    profiled_study, analyst_client, query, parameter
):
    study, _, _ = profiled_study
    api = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/?{query}")
    assert api.status_code == 400 and list(api.json()) == [parameter]
    export_api = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/exports/json/?{query}")
    assert export_api.status_code == 400 and parameter in export_api.json()
    for url in (
        f"/analysis/studies/{study.pk}/?{query}",
        f"/analysis/studies/{study.pk}/export/csv/?{query}",
    ):
        page = analyst_client.get(url)
        assert page.status_code == 400, url
        assert f"{parameter}: " in page.content.decode()
        assert "choose one of" in page.content.decode()
    data = analyst_client.get(f"/analysis/studies/{study.pk}/data.json?{query}")
    assert data.status_code == 400 and parameter in data.json()["errors"]


def _csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(body.decode())))


def test_the_exports_keep_only_the_subgroups_readers(profiled_study, analyst_client):
    study, _, _ = profiled_study
    ratings = _csv(
        analyst_client.get(f"/analysis/studies/{study.pk}/export/ratings/?position=resident")
    )
    assert {row["reader"] for row in ratings} == {"CNN", "R03", "R04"}
    decisions = _csv(
        analyst_client.get(f"/analysis/studies/{study.pk}/export/csv/?position=resident")
    )
    assert {row["reader"] for row in decisions} == {"R03", "R04"}
    assert len(decisions) == 2 * 60
    analysis = json.loads(
        analyst_client.get(f"/analysis/studies/{study.pk}/export/json/?experience=%3E10").content
    )
    assert [row["reader"] for row in analysis["analysis"]["readers"]] == ["R01", "R02"]


def test_the_readers_csv_gives_each_profile_by_pseudonym(profiled_study, analyst_client):
    study, _, _ = profiled_study
    enrolment = Enrolment.objects.get(study=study, pseudonym="R05")
    reader_profile_save(
        enrolment=enrolment, position="other_physician", experience="3-10", notes="=HYPERLINK(1)"
    )
    rows = _csv(analyst_client.get(f"/analysis/studies/{study.pk}/export/readers/"))
    assert list(rows[0]) == [
        "reader",
        "simulated",
        "position",
        "board_certified",
        "experience",
        "notes",
        "consented_at",
    ]
    by_reader = {row["reader"]: row for row in rows}
    assert sorted(by_reader) == [f"R0{n}" for n in range(1, 7)]
    assert by_reader["R01"] | {} == {
        "reader": "R01",
        "simulated": "1",
        "position": "attending",
        "board_certified": "1",
        "experience": ">10",
        "notes": "",
        "consented_at": "",
    }
    assert by_reader["R03"]["board_certified"] == "0"
    assert (
        by_reader["R05"]["board_certified"] == "" and by_reader["R05"]["notes"] == "'=HYPERLINK(1)"
    )
    assert by_reader["R06"]["position"] == ""
    # Names only when asked for, and the subgroup applies here too.
    named = _csv(
        analyst_client.get(
            f"/analysis/studies/{study.pk}/export/readers/?identities=1&position=attending"
        )
    )
    assert [row["reader"] for row in named] == ["sim1", "sim2"]
    api = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/exports/readers/")
    assert api.status_code == 200 and len(_csv(api)) == 6


def test_export_report_restricts_to_a_subgroup(profiled_study, tmp_path):
    study, _, _ = profiled_study
    out = tmp_path / "attendings.json"
    call_command(
        "export_report",
        str(study.pk),
        "--format",
        "json",
        "--out",
        str(out),
        "--position",
        "attending",
        "--experience",
        ">10",
    )
    body = json.loads(out.read_text())
    assert [row["reader"] for row in body["analysis"]["readers"]] == ["R01", "R02"]
    assert body["subgroup"]["label"].startswith("Attending")
    readers = tmp_path / "readers.csv"
    call_command(
        "export_report",
        str(study.pk),
        "--format",
        "readers",
        "--out",
        str(readers),
        "--experience",
        "3-10",
    )
    assert [row["reader"] for row in csv.DictReader(readers.open())] == ["R04", "R05"]
    with pytest.raises(CommandError, match="experience"):
        call_command(
            "export_report",
            str(study.pk),
            "--format",
            "json",
            "--out",
            str(out),
            "--experience",
            "11",
        )


def test_a_changed_profile_moves_the_reader_between_subgroups(profiled_study, analyst_client):
    study, _, _ = profiled_study
    url = f"/api/v1/analysis/studies/{study.pk}/?position=attending"
    assert len(analyst_client.get(url).json()["analysis"]["readers"]) == 2
    reader_profile_save(
        enrolment=Enrolment.objects.get(study=study, pseudonym="R03"),
        position="attending",
        experience="<3",
    )
    assert [r["reader"] for r in analyst_client.get(url).json()["analysis"]["readers"]] == [
        "R01",
        "R02",
        "R03",
    ]


def test_the_diagnosis_analysis_is_restricted_to_a_subgroup_too(coordinator, analyst_client):
    from sklearn.metrics import accuracy_score

    from readerstudy.reading.selectors import decision_final_list
    from readerstudy.studies.models import Case
    from tests.support.diagnosed import build_diagnosis_study

    diagnosed = build_diagnosis_study(coordinator=coordinator)
    study, scheme = diagnosed.study, diagnosed.scheme
    for pseudonym in ("R02", "R04"):
        reader_profile_save(
            enrolment=Enrolment.objects.get(study=study, pseudonym=pseudonym),
            position="attending",
            experience=">10",
        )
    url = f"/api/v1/analysis/studies/{study.pk}/diagnosis/"
    body = analyst_client.get(url, {"position": "attending"}).json()
    assert sorted(body["readers"]) == ["R02", "R04"]
    truth = {c.pk: scheme.class_of(c.diagnosis) for c in Case.objects.filter(study=study)}
    for row_reader in ("R02", "R04"):
        rows = [r for r in decision_final_list(study) if r["pseudonym"] == row_reader]
        expected = accuracy_score(
            [truth[r["case_id"]] for r in rows], [r["diagnosis_class"] for r in rows]
        )
        assert body["readers"][row_reader]["accuracy"] == pytest.approx(expected)
    assert len(analyst_client.get(url).json()["readers"]) == 6
    assert analyst_client.get(url, {"experience": "11"}).status_code == 400
    page = analyst_client.get(f"/analysis/studies/{study.pk}/diagnosis/?experience=%3E10")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Subgroup: Dermoscopy experience more than 10 years" in text
    assert "experience=%3E10" in text  # the export links keep the subgroup
    empty = analyst_client.get(f"/analysis/studies/{study.pk}/diagnosis/?position=resident")
    assert empty.status_code == 200 and 'id="subgroup-empty"' in empty.content.decode()
    refused = analyst_client.get(f"/analysis/studies/{study.pk}/diagnosis/?position=chief")
    assert refused.status_code == 400 and "position: " in refused.content.decode()
    exported = json.loads(
        analyst_client.get(
            f"/analysis/studies/{study.pk}/export/diagnosis/?position=attending"
        ).content
    )
    assert sorted(exported["readers"]) == ["R02", "R04"]
