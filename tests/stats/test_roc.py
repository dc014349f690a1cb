"""ROC curve and AUC: pROC's own expected values on aSAH, scikit-learn on random data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics

from readerstudy.stats.bootstrap import stratified_counts
from readerstudy.stats.roc import (
    RocInputError,
    auc_ci,
    bootstrap_auc_ci,
    delong,
    paired_test,
    resampled_aucs,
    roc_curve,
)

TOL = 1e-9


@pytest.fixture(scope="module")
def expected(refdata: Path) -> dict:
    with open(refdata / "pROC" / "pROC_expected_from_upstream_tests.json") as handle:
        return json.load(handle)


@pytest.mark.parametrize("name", ["wfns", "ndka", "s100b"])
def test_auc_and_delong_variance_match_proc(asah, expected, name):
    result = auc_ci(asah["truth"], asah[name])
    auc = expected["auc"][name]
    assert result.auc == pytest.approx(auc.get("value", 0.731368563685637), abs=TOL)
    assert result.variance == pytest.approx(expected["var_delong"][name]["value"], abs=TOL)


def test_delong_ci_matches_proc(asah, expected):
    lo, _, hi = expected["ci_auc_delong_95"]["ndka"]["value"]
    assert auc_ci(asah["truth"], asah["ndka"]).ci == pytest.approx((lo, hi), abs=TOL)


def test_delong_covariances_match_proc(asah, expected):
    result = delong(asah["truth"], np.vstack([asah["wfns"], asah["ndka"], asah["s100b"]]))
    cov = expected["cov_delong"]
    assert result.covariance[0, 1] == pytest.approx(cov["wfns_ndka"]["value"], abs=TOL)
    assert result.covariance[1, 2] == pytest.approx(cov["ndka_s100b"]["value"], abs=TOL)
    assert result.covariance[2, 0] == pytest.approx(cov["s100b_wfns"]["value"], abs=TOL)


@pytest.mark.parametrize(
    ("first", "second", "key"),
    [
        ("wfns", "s100b", "t1 = roc.test(r.wfns, r.s100b)"),
        ("wfns", "ndka", "t2 = roc.test(r.wfns, r.ndka)"),
        ("ndka", "s100b", "t3 = roc.test(r.ndka, r.s100b)"),
    ],
)
def test_paired_delong_test_matches_proc(asah, expected, first, second, key):
    want = expected["roc_test_delong_paired_two_sided"][key]
    result = paired_test(asah["truth"], asah[first], asah[second])
    assert result.z == pytest.approx(want["Z"], abs=TOL)
    assert result.p == pytest.approx(want["p"], abs=TOL)
    assert result.ci == pytest.approx(tuple(want["ci_diff_95"]), abs=TOL)


def test_paired_test_of_identical_curves_gives_z_0_and_p_1(asah):
    result = paired_test(asah["truth"], asah["wfns"], asah["wfns"])
    assert (result.z, result.p) == (0.0, 1.0)


def test_roc_curve_points_match_proc_coords(refdata, asah):
    import csv

    with open(refdata / "pROC" / "coords_all_s100b.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    want = {(float(r["specificity"]), float(r["sensitivity"])) for r in rows}
    curve = roc_curve(asah["truth"], asah["s100b"])
    got = {(1 - f, t) for f, t in zip(curve.fpr, curve.tpr, strict=True)}
    # scikit-learn drops collinear points, so its corners are a subset of pROC's thresholds.
    for spec, sens in got:
        assert any(abs(spec - s) < TOL and abs(sens - t) < TOL for s, t in want)
    assert metrics.auc(curve.fpr, curve.tpr) == pytest.approx(0.731368563685637, abs=TOL)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_agrees_with_scikit_learn_on_random_tied_data(seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, 257)
    scores = np.round(rng.normal(size=257) + truth, 1)  # rounding makes ties
    assert delong(truth, scores).auc[0] == pytest.approx(
        metrics.roc_auc_score(truth, scores), abs=1e-12
    )
    curve = roc_curve(truth, scores)
    fpr, tpr, _ = metrics.roc_curve(truth, scores)
    np.testing.assert_array_equal(curve.fpr, fpr)
    np.testing.assert_array_equal(curve.tpr, tpr)


def test_resampled_aucs_equal_the_auc_of_each_explicit_resample():
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 2, 120)
    scores = np.round(rng.normal(size=120) + truth, 1)
    positive = truth.astype(bool)
    counts = stratified_counts(positive, 20, seed=9)
    aucs = resampled_aucs(positive, scores, counts)
    for row, auc in zip(counts, aucs, strict=True):
        cases = np.repeat(np.arange(120), row)
        assert auc == pytest.approx(metrics.roc_auc_score(truth[cases], scores[cases]), abs=1e-12)


def test_stratified_resamples_keep_the_number_of_positives_and_negatives():
    positive = np.array([True] * 7 + [False] * 13)
    counts = stratified_counts(positive, 50, seed=1)
    assert (counts[:, positive].sum(axis=1) == 7).all()
    assert (counts[:, ~positive].sum(axis=1) == 13).all()


def test_bootstrap_ci_is_seeded_and_brackets_the_delong_ci(asah):
    first = bootstrap_auc_ci(asah["truth"], asah["wfns"], seed=3)
    again = bootstrap_auc_ci(asah["truth"], asah["wfns"], seed=3)
    other = bootstrap_auc_ci(asah["truth"], asah["wfns"], seed=4)
    assert first == again
    assert first.ci != other.ci
    assert first.estimate == pytest.approx(0.823678861788618, abs=TOL)
    delong_ci = auc_ci(asah["truth"], asah["wfns"]).ci
    assert first.ci[0] == pytest.approx(delong_ci[0], abs=0.02)
    assert first.ci[1] == pytest.approx(delong_ci[1], abs=0.02)


def test_one_class_empty_is_a_clear_error():
    with pytest.raises(RocInputError, match="at least one positive and one negative"):
        auc_ci(np.ones(5), np.arange(5))


def test_constant_scores_give_auc_one_half():
    result = auc_ci([0, 1, 0, 1], [3, 3, 3, 3])
    assert result.auc == 0.5
    assert result.variance == 0.0


def test_delong_ci_on_a_subset_matches_proc(refdata, expected):
    import csv

    with open(refdata / "pROC" / "aSAH.csv", newline="") as handle:
        female = [row for row in csv.DictReader(handle) if row["gender"] == "Female"]
    truth = np.array([int(row["outcome_poor"]) for row in female])
    scores = np.array([float(row["ndka"]) for row in female])
    lo, auc, hi = expected["ci_auc_delong_95"]["ndka_female_subset"]["value"]
    result = auc_ci(truth, scores)
    # pROC's test file gives these to 10 decimals
    assert result.auc == pytest.approx(auc, abs=5e-11)
    assert result.ci == pytest.approx((lo, hi), abs=5e-11)
