"""The ``plan_study`` command on ratings files: RJafroc's Van Dyke expectations through the
command, its JSON keys, the algorithm-vs-readers design, and its errors. (``--study`` and the
planning page: tests/analysis_pages/test_planning.py.)"""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from readerstudy.stats.planning import table_csv
from readerstudy.stats.power import algorithm_pilot, cases_needed


@pytest.fixture(scope="module")
def vandyke_csv(refdata):
    return refdata / "vandyke" / "dataset02_ratings.csv"


def _plan(tmp_path, *args: str) -> dict:
    out = tmp_path / "plan.json"
    call_command("plan_study", *args, "--json", str(out))
    return json.loads(out.read_text())


def test_six_readers_and_111_cases_give_rjafroc_s_power_and_251_cases(vandyke_csv, tmp_path):
    plan = _plan(tmp_path, "--ratings", str(vandyke_csv), "--readers", "6", "--cases", "111")
    assert plan["power"] == pytest.approx(0.5526116, abs=5e-8)
    assert plan["cases_needed"] == {"6": 251}
    assert plan["table"] == [{"readers": 6, "cases": 111, "power": plan["power"]}]
    assert plan["analysis"] == "rrrc" and plan["alpha"] == 0.05
    assert plan["effect"] == pytest.approx(-0.0438003220611917, abs=1e-12)
    assert plan["effect_source"] == "pilot"
    assert plan["variance_components"]["var_tr"] == pytest.approx(0.00020040, abs=5e-9)
    assert set(plan["variance_components"]) == {
        "var_r",
        "var_tr",
        "cov1",
        "cov2",
        "cov3",
        "var_error",
    }
    assert plan["pilot"] == {"readers": 5, "cases": 114, "observed_effect": plan["effect"]}


def test_a_reader_range_gives_cases_needed_for_each_count_and_a_table(
    vandyke_csv, tmp_path, capsys
):
    plan = _plan(tmp_path, "--ratings", str(vandyke_csv), "--effect", "0.05", "--analysis", "frrc")
    assert list(plan["cases_needed"]) == [str(j) for j in range(3, 31)]
    assert "power" not in plan  # several reader counts: no single power
    assert len(plan["table"]) == 28 * 4
    assert {row["cases"] for row in plan["table"]} == {100, 200, 400, 800}
    assert plan["effect"] == 0.05 and plan["effect_source"] == "given"
    assert plan["analysis"] == "frrc"
    printed = capsys.readouterr().out
    assert "6 readers: 118" in printed
    assert "FRRC" in printed


def test_the_csv_export_has_one_row_per_reader_and_case_count(vandyke_csv, tmp_path):
    plan = _plan(tmp_path, "--ratings", str(vandyke_csv), "--readers", "4:5", "--cases", "50,90")
    lines = table_csv(plan).splitlines()
    assert lines[0] == "readers,cases,power,cases_needed"
    assert len(lines) == 1 + 4
    assert lines[1].startswith("4,50,") and lines[1].endswith(f",{plan['cases_needed']['4']}")


def test_an_algorithm_against_readers_is_planned_with_the_single_treatment_design(
    algorithm_study, tmp_path
):
    path, truth, cnn, panel = algorithm_study
    plan = _plan(tmp_path, "--ratings", str(path), "--algorithm", "cnn", "--readers", "5:7")
    assert plan["design"] == "algorithm-vs-readers"
    assert plan["comparison"] == "readers - cnn"
    assert set(plan["variance_components"]) == {"ms_r", "var_r", "var_error", "cov2"}
    pilot = algorithm_pilot(truth, cnn, panel.rating)
    assert plan["effect"] == pytest.approx(pilot.observed_effect, abs=1e-12)
    for j in (5, 6, 7):
        expected = cases_needed(pilot, j)
        assert plan["cases_needed"][str(j)] == (None if expected is None else expected.cases)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--readers", "1:5"], "the reader counts must lie within 2"),
        (["--readers", "three"], "the reader count must be a number or a range"),
        (["--cases", "0"], "the case counts must lie within 2"),
        (["--algorithm", "cnn"], "the algorithm 'cnn' is not a reader"),
        (["--alpha", "0"], "alpha must lie strictly between 0 and 1"),
        (["--power", "1"], "target power must lie strictly between 0 and 1"),
    ],
)
def test_bad_options_are_refused_with_a_reason(vandyke_csv, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("plan_study", "--ratings", str(vandyke_csv), *args)


def test_a_file_of_one_modality_without_an_algorithm_is_refused(algorithm_study):
    with pytest.raises(CommandError, match=r"study\.csv: planning compares two modalities"):
        call_command("plan_study", "--ratings", str(algorithm_study[0]))


def test_a_missing_file_and_a_bad_row_are_named(tmp_path):
    with pytest.raises(CommandError, match=r"nope\.csv: no such file"):
        call_command("plan_study", "--ratings", str(tmp_path / "nope.csv"))
    bad = tmp_path / "bad.csv"
    bad.write_text("reader,modality,case,truth,rating\nr,m,1,yes,3\n")
    with pytest.raises(CommandError, match=rf"{bad}, row 2, field 'truth'"):
        call_command("plan_study", "--ratings", str(bad))


def test_a_file_that_is_not_text_is_named(tmp_path):
    binary = tmp_path / "scan.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    with pytest.raises(CommandError, match=r"scan\.png: not UTF-8 text"):
        call_command("plan_study", "--ratings", str(binary))


def test_ratings_and_study_are_alternatives(vandyke_csv):
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("plan_study", "--ratings", str(vandyke_csv), "--study", "1")
