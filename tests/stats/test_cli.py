"""The ``analyze`` command: the pure function on refdata, its JSON keys and its errors, and the
Django management command itself."""

from __future__ import annotations

import json

import pytest

from readerstudy.stats.cli import analyze_ratings, format_summary
from readerstudy.stats.design import table_from_design
from readerstudy.stats.formats import RatingsFormatError, write_imrmc, write_long_csv
from readerstudy.stats.mrmc import algorithm_vs_readers

TOL = 1e-9


@pytest.fixture(scope="module")
def vandyke_csv(refdata):
    return refdata / "vandyke" / "dataset02_ratings.csv"


def test_van_dyke_json_has_the_keys_and_the_iowa_values(vandyke_csv):
    result = analyze_ratings(vandyke_csv)
    json.dumps(result, allow_nan=False)
    assert set(result["modalities"]) == {"0", "1"}
    assert result["modalities"]["0"]["mean_auc"] == pytest.approx(0.897037037037037, abs=TOL)
    assert len(result["modalities"]["1"]["reader_auc"]) == 5
    block = result["or"]
    assert block["cov"] == "jackknife"
    assert {"var_r", "var_tr", "cov1", "cov2", "cov3", "var_error"} <= set(block)
    assert block["rrrc"]["f"] == pytest.approx(4.45631869315726, abs=TOL)
    assert block["rrrc"]["ddf"] == pytest.approx(15.2596745891418, abs=TOL)
    assert block["rrrc"]["diff"] == pytest.approx(0.897037037037037 - 0.940837359098229, abs=TOL)
    assert block["rrrc"]["ci"] == pytest.approx([-0.0879594985665547, 0.00035885444417133], abs=TOL)
    assert block["frrc"]["chi2"] == pytest.approx(5.47595324247717, abs=TOL)
    assert set(block["frrc"]) >= {"chi2", "p", "ci"}
    assert set(block["rrfc"]) >= {"f", "ddf", "p"}
    assert "algorithm_vs_readers" not in result


def test_delong_covariances_are_chosen_by_cov(vandyke_csv):
    block = analyze_ratings(vandyke_csv, cov="delong")["or"]
    assert block["cov"] == "delong"
    assert block["rrrc"]["f"] == pytest.approx(4.48485432182078, abs=TOL)


def test_the_imrmc_file_gives_the_same_analysis_as_the_csv(vandyke, vandyke_csv, tmp_path):
    path = tmp_path / "vandyke.imrmc"
    write_imrmc(table_from_design(vandyke), path)
    from_imrmc = analyze_ratings(path)
    from_csv = analyze_ratings(vandyke_csv)
    assert from_imrmc["or"] == from_csv["or"]
    assert from_imrmc["modalities"] == from_csv["modalities"]


def test_algorithm_vs_readers_block_matches_the_function(algorithm_study):
    path, truth, cnn, panel = algorithm_study
    result = analyze_ratings(path, algorithm="cnn")
    block = result["algorithm_vs_readers"]
    want = algorithm_vs_readers(truth, cnn, panel.rating)
    assert block["algorithm"] == "cnn"
    assert block["algorithm_auc"] == pytest.approx(want.algorithm_auc, abs=1e-12)
    assert block["diff"] == pytest.approx(want.reader_mean_auc - want.algorithm_auc, abs=1e-12)
    assert block["rrrc"]["t"] == pytest.approx(want.rrrc.t, abs=1e-12)
    assert set(block["rrrc"]) == {"t", "df", "p", "ci"} and set(block["rrfc"]) >= {"t", "df", "p"}
    assert "cnn" not in result["modalities"]["derm"]["reader_auc"]
    assert "or" not in result
    assert "algorithm cnn vs readers" in format_summary(result)


def test_an_unknown_algorithm_reader_is_named(algorithm_study):
    path = algorithm_study[0]
    with pytest.raises(RatingsFormatError, match=r"the algorithm 'CNN' is not a reader"):
        analyze_ratings(path, algorithm="CNN")


def test_an_incomplete_design_is_refused_for_mrmc(vandyke, tmp_path):
    path = tmp_path / "holes.csv"
    write_long_csv(table_from_design(vandyke), path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")  # drop reader 4's last reading
    with pytest.raises(RatingsFormatError, match=rf"{path}: incomplete reader x case design"):
        analyze_ratings(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(RatingsFormatError, match=r"nope\.csv: no such file"):
        analyze_ratings(tmp_path / "nope.csv")


def _django_ready() -> bool:
    from django.conf import settings

    return settings.configured


django_only = pytest.mark.skipif(
    not _django_ready(), reason="Django settings are not configured (run with pytest-django)"
)


@django_only
def test_the_management_command_prints_a_summary_and_writes_json(vandyke_csv, tmp_path, capsys):
    from django.core.management import call_command

    out = tmp_path / "out.json"
    call_command("analyze", "--ratings", str(vandyke_csv), "--cov", "delong", "--json", str(out))
    printed = capsys.readouterr().out
    assert "Obuchowski-Rockette-Hillis, delong covariances" in printed
    data = json.loads(out.read_text())
    assert data["or"]["rrrc"]["f"] == pytest.approx(4.48485432182078, abs=TOL)


@django_only
def test_the_management_command_fails_with_the_file_row_and_field(tmp_path):
    from django.core.management import CommandError, call_command

    path = tmp_path / "bad.csv"
    path.write_text("reader,modality,case,truth,rating\nr,m,1,yes,3\n")
    with pytest.raises(CommandError, match=rf"{path}, row 2, field 'truth'"):
        call_command("analyze", "--ratings", str(path))


@django_only
def test_the_management_command_accepts_only_the_two_covariance_methods(vandyke_csv):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="invalid choice"):
        call_command("analyze", "--ratings", str(vandyke_csv), "--cov", "bootstrap")
