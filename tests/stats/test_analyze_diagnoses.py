"""The ``analyze_diagnoses`` command: its JSON keys and values against scikit-learn and
statsmodels, the reader's errors by file, row and field, and the management command itself."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa

from readerstudy.stats.diagnosis import mcnemar_exact
from readerstudy.stats.diagnosis_cli import analyze_diagnoses, format_diagnosis_summary
from readerstudy.stats.diagnosis_formats import read_diagnosis_csv
from readerstudy.stats.formats import RatingsFormatError

ESTEVA3 = ("benign", "malignant", "non-neoplastic")
TOL = 1e-12
N_CASES = 80


@pytest.fixture(scope="module")
def diagnosis_study(tmp_path_factory):
    """Three-way answers of a CNN ("cnn"), three readers of every case and one ("dr_p") who
    read the first 60 cases; (path, truth, {reader: answers})."""
    rng = np.random.default_rng(17)
    truth = rng.choice(ESTEVA3, N_CASES, p=[0.5, 0.3, 0.2])
    answers = {}
    for name, skill in (("cnn", 0.75), ("dr_a", 0.65), ("dr_b", 0.55), ("dr_c", 0.6)):
        answers[name] = np.where(rng.random(N_CASES) < skill, truth, rng.choice(ESTEVA3, N_CASES))
    answers["dr_p"] = np.where(rng.random(60) < 0.6, truth[:60], rng.choice(ESTEVA3, 60))
    rows = ["reader,case,truth,answer"]
    for name, given in answers.items():
        rows += [f"{name},case{k},{truth[k]},{given[k]}" for k in range(len(given))]
    path = tmp_path_factory.mktemp("diagnoses") / "esteva3.csv"
    path.write_text("\n".join(rows) + "\n")
    return path, truth, answers


def test_the_json_has_the_issue_keys_and_scikit_learns_values(diagnosis_study):
    path, truth, answers = diagnosis_study
    result = analyze_diagnoses(path)
    json.dumps(result, allow_nan=False)
    assert result["classes"] == list(ESTEVA3)
    assert set(result["readers"]) == {"cnn", "dr_a", "dr_b", "dr_c", "dr_p"}
    for name, given in answers.items():
        block = result["readers"][name]
        seen = truth[: len(given)]
        assert {"n", "accuracy", "accuracy_ci", "mean_recall", "confusion"} <= set(block)
        assert block["n"] == len(given)
        assert block["accuracy"] == pytest.approx(metrics.accuracy_score(seen, given), abs=TOL)
        lo, hi = block["accuracy_ci"]
        assert lo < block["accuracy"] < hi
        assert block["mean_recall"] == pytest.approx(
            metrics.balanced_accuracy_score(seen, given), abs=TOL
        )
        assert block["confusion"] == (
            metrics.confusion_matrix(seen, given, labels=list(ESTEVA3)).tolist()
        )
    assert "algorithm_vs_readers" not in result


def test_fleiss_kappa_is_statsmodels_over_the_readers_of_every_case(diagnosis_study):
    path, _, answers = diagnosis_study
    result = analyze_diagnoses(path, algorithm="cnn")
    assert result["complete_readers"] == ["dr_a", "dr_b", "dr_c"]
    assert result["partial_readers"] == ["dr_p"]
    table, _ = aggregate_raters(np.array([answers[r] for r in ("dr_a", "dr_b", "dr_c")]).T)
    assert result["fleiss_kappa"] == pytest.approx(statsmodels_fleiss_kappa(table), abs=TOL)
    pair = next(p for p in result["cohen_kappa"] if p["readers"] == ["dr_a", "dr_p"])
    assert pair["n"] == 60
    assert pair["kappa"] == pytest.approx(
        metrics.cohen_kappa_score(answers["dr_a"][:60], answers["dr_p"]), abs=TOL
    )


def test_the_algorithm_is_compared_and_not_among_the_readers(diagnosis_study):
    path, truth, answers = diagnosis_study
    result = analyze_diagnoses(path, algorithm="cnn", n_bootstrap=300)
    assert "cnn" not in result["readers"]
    assert result["algorithm"]["name"] == "cnn"
    block = result["algorithm_vs_readers"]
    assert {
        "algorithm_accuracy",
        "reader_mean_accuracy",
        "diff",
        "diff_ci",
        "mcnemar_p",
    } <= set(block)
    cnn_accuracy = metrics.accuracy_score(truth, answers["cnn"])
    panel_mean = np.mean(
        [metrics.accuracy_score(truth, answers[r]) for r in ("dr_a", "dr_b", "dr_c")]
    )
    assert block["algorithm_accuracy"] == pytest.approx(cnn_accuracy, abs=TOL)
    assert block["reader_mean_accuracy"] == pytest.approx(panel_mean, abs=TOL)
    assert block["diff"] == pytest.approx(cnn_accuracy - panel_mean, abs=TOL)
    lo, hi = block["diff_ci"]
    assert lo < block["diff"] < hi
    assert set(block["mcnemar_p"]) == {"dr_a", "dr_b", "dr_c", "dr_p"}
    on_partial = mcnemar_exact(truth[:60], answers["cnn"][:60], answers["dr_p"], ESTEVA3)
    assert block["mcnemar_p"]["dr_p"] == pytest.approx(on_partial.p, abs=TOL)
    summary = format_diagnosis_summary(result)
    assert "cnn (algorithm)" in summary and "case-and-reader bootstrap CI" in summary


def test_an_unknown_algorithm_reader_is_named(diagnosis_study):
    with pytest.raises(RatingsFormatError, match=r"the algorithm 'CNN' is not a reader"):
        analyze_diagnoses(diagnosis_study[0], algorithm="CNN")


def test_an_algorithm_that_skipped_a_case_is_refused(diagnosis_study):
    with pytest.raises(RatingsFormatError, match=r"'dr_p' has no answer for case 'case60'"):
        analyze_diagnoses(diagnosis_study[0], algorithm="dr_p")


def test_the_given_class_order_is_kept_and_a_stray_label_is_named(diagnosis_study):
    path = diagnosis_study[0]
    order = ("non-neoplastic", "malignant", "benign")
    assert analyze_diagnoses(path, classes=order)["classes"] == list(order)
    # The first reading's case (case0) is non-neoplastic.
    message = r"row 2, field 'truth': 'non-neoplastic' is not one of the classes benign, malignant"
    with pytest.raises(RatingsFormatError, match=message):
        analyze_diagnoses(path, classes=("benign", "malignant"))


def test_an_algorithm_without_readers_still_gets_its_accuracy(tmp_path):
    path = tmp_path / "alone.csv"
    path.write_text("reader,case,truth,answer\ncnn,c1,mel,nv\ncnn,c2,nv,nv\ncnn,c3,nv,nv\n")
    result = analyze_diagnoses(path, algorithm="cnn")
    json.dumps(result, allow_nan=False)
    assert result["readers"] == {} and result["fleiss_kappa"] is None
    assert result["cohen_kappa"] == []
    block = result["algorithm_vs_readers"]
    assert block["algorithm_accuracy"] == pytest.approx(2 / 3, abs=TOL)
    assert block["diff"] is None and block["mcnemar_p"] == {}
    assert "0 complete readers" in format_diagnosis_summary(result)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("r1,c1,mel,\n", r"row 2, field 'answer': empty"),
        ("r1,c1,mel,nv\nr2,c1,nv,nv\n", r"row 3, field 'truth': case 'c1' has truth 'nv'"),
        ("r1,c1,mel,nv\nr1,c1,mel,mel\n", r"row 3: reader 'r1' answers case 'c1' twice"),
        ("r1,c1\n", r"row 2: 2 fields but the header has 4"),
    ],
)
def test_a_bad_row_is_named_by_file_row_and_field(tmp_path, body, message):
    path = tmp_path / "bad.csv"
    path.write_text("reader,case,truth,answer\n" + body)
    with pytest.raises(RatingsFormatError, match=rf"{path}, {message}"):
        read_diagnosis_csv(path)


def test_a_missing_column_is_named(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("reader,modality,case,truth,rating\nr,m,1,1,3\n")
    with pytest.raises(RatingsFormatError, match=rf"{path}, row 1: missing column 'answer'"):
        read_diagnosis_csv(path)


def _django_ready() -> bool:
    from django.conf import settings

    return settings.configured


django_only = pytest.mark.skipif(
    not _django_ready(), reason="Django settings are not configured (run with pytest-django)"
)


@django_only
def test_the_management_command_prints_a_table_and_writes_json(diagnosis_study, tmp_path, capsys):
    from django.core.management import call_command

    path, truth, answers = diagnosis_study
    out = tmp_path / "out.json"
    call_command("analyze_diagnoses", "--ratings", str(path), "--algorithm", "cnn", "--json", out)
    printed = capsys.readouterr().out
    assert "average reader" in printed and "Fleiss' kappa (3 complete readers)" in printed
    data = json.loads(out.read_text())
    assert {"classes", "readers", "fleiss_kappa", "algorithm_vs_readers"} <= set(data)
    assert data["algorithm_vs_readers"]["algorithm_accuracy"] == pytest.approx(
        metrics.accuracy_score(truth, answers["cnn"]), abs=TOL
    )


@django_only
def test_the_management_command_takes_the_class_order(diagnosis_study, tmp_path):
    from django.core.management import call_command

    out = tmp_path / "ordered.json"
    order = "non-neoplastic,malignant,benign"
    call_command(
        "analyze_diagnoses",
        "--ratings",
        str(diagnosis_study[0]),
        "--classes",
        order,
        "--json",
        str(out),
    )
    data = json.loads(out.read_text())
    assert data["classes"] == order.split(",")
    truth, given = diagnosis_study[1], diagnosis_study[2]["dr_a"]
    assert data["readers"]["dr_a"]["confusion"] == (
        metrics.confusion_matrix(truth, given, labels=order.split(",")).tolist()
    )


@django_only
def test_the_management_command_fails_with_the_file_row_and_field(tmp_path):
    from django.core.management import CommandError, call_command

    path = tmp_path / "bad.csv"
    path.write_text("reader,case,truth,answer\nr1,c1,mel,nv\nr1,c2,,nv\n")
    with pytest.raises(CommandError, match=rf"{path}, row 3, field 'truth': empty"):
        call_command("analyze_diagnoses", "--ratings", str(path))
