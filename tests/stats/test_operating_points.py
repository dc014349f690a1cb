"""Brinker's and Tschandl's operating-point comparisons and their paired bootstrap."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics

from readerstudy.stats.bootstrap import stratified_counts
from readerstudy.stats.operating_points import (
    compare_operating_points,
    sensitivity_at_specificity,
    specificity_at_sensitivity,
)


@pytest.fixture()
def tied_scores():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 100)
    return truth, np.round(rng.normal(size=100) + 1.2 * truth, 1)


@pytest.mark.parametrize("target", [0.0, 0.1, 0.35, 0.5, 0.73, 0.9, 1.0])
def test_specificity_at_sensitivity_is_the_best_corner_with_enough_sensitivity(tied_scores, target):
    truth, scores = tied_scores
    fpr, tpr, _ = metrics.roc_curve(truth, scores, drop_intermediate=False)
    spec, threshold = specificity_at_sensitivity(truth, scores, target)
    assert spec == pytest.approx((1 - fpr[tpr >= target - 1e-12]).max(), abs=1e-12)
    called = scores >= threshold
    assert called[truth == 1].mean() >= target - 1e-12
    assert (~called[truth == 0]).mean() == pytest.approx(spec, abs=1e-12)


@pytest.mark.parametrize("target", [0.0, 0.1, 0.35, 0.5, 0.73, 0.9, 1.0])
def test_sensitivity_at_specificity_is_the_best_corner_with_enough_specificity(tied_scores, target):
    truth, scores = tied_scores
    fpr, tpr, _ = metrics.roc_curve(truth, scores, drop_intermediate=False)
    sens, threshold = sensitivity_at_specificity(truth, scores, target)
    assert sens == pytest.approx(tpr[1 - fpr >= target - 1e-12].max(), abs=1e-12)
    called = scores >= threshold
    assert (~called[truth == 0]).mean() >= target - 1e-12
    assert called[truth == 1].mean() == pytest.approx(sens, abs=1e-12)


def test_a_sensitivity_of_an_exact_number_of_cases_is_not_lost_to_round_off():
    truth = np.array([1] * 20 + [0] * 5)
    scores = np.arange(25.0)[::-1]  # positives highest: every sensitivity costs nothing
    assert specificity_at_sensitivity(truth, scores, 7 / 20)[0] == 1.0
    assert specificity_at_sensitivity(truth, scores, 0.35)[0] == 1.0


def _explicit(truth, cnn, decisions, graded, row):
    """Recompute one resample by materialising it."""
    cases = np.repeat(np.arange(len(truth)), row)
    t = truth[cases].astype(bool)
    d = decisions[:, cases]
    g = graded[:, cases]
    sens = np.mean([d[r, t & g[r]].mean() for r in range(len(d))])
    spec = np.mean([(~d[r, ~t & g[r]]).mean() for r in range(len(d))])
    return (
        sens,
        spec,
        specificity_at_sensitivity(t, cnn[cases], sens)[0],
        sensitivity_at_specificity(t, cnn[cases], spec)[0],
    )


@pytest.mark.parametrize("complete", [True, False])
def test_each_bootstrap_resample_recomputes_readers_and_cnn_on_the_resampled_cases(
    tied_scores, complete
):
    truth, cnn = tied_scores
    rng = np.random.default_rng(4)
    decisions = rng.random((6, 100)) < 0.5 + 0.3 * truth
    graded = np.ones((6, 100), bool) if complete else rng.random((6, 100)) < 0.8
    positive = truth.astype(bool)
    for row in stratified_counts(positive, 3, seed=1):
        brinker, tschandl = compare_operating_points(
            positive, cnn, decisions, graded, row[None, :], seed=1
        )
        sens, spec, cnn_spec, cnn_sens = _explicit(truth, cnn, decisions, graded, row)
        assert brinker.target_ci[0] == pytest.approx(sens, abs=1e-12)
        assert brinker.cnn_ci[0] == pytest.approx(cnn_spec, abs=1e-12)
        assert brinker.diff_ci[0] == pytest.approx(cnn_spec - spec, abs=1e-12)
        assert tschandl.target_ci[0] == pytest.approx(spec, abs=1e-12)
        assert tschandl.cnn_ci[0] == pytest.approx(cnn_sens, abs=1e-12)


def test_point_estimates_use_the_study_itself(tied_scores):
    truth, cnn = tied_scores
    rng = np.random.default_rng(5)
    decisions = rng.random((4, 100)) < 0.5 + 0.3 * truth
    graded = np.ones((4, 100), bool)
    positive = truth.astype(bool)
    counts = stratified_counts(positive, 200, seed=2)
    brinker, tschandl = compare_operating_points(positive, cnn, decisions, graded, counts, seed=2)
    sens, spec, cnn_spec, cnn_sens = _explicit(truth, cnn, decisions, graded, np.ones(100, int))
    assert (brinker.target, brinker.reader_value) == pytest.approx((sens, spec), abs=1e-12)
    assert brinker.cnn_value == pytest.approx(cnn_spec, abs=1e-12)
    assert tschandl.cnn_value == pytest.approx(cnn_sens, abs=1e-12)
    assert brinker.cnn_ci[0] <= brinker.cnn_value <= brinker.cnn_ci[1]
    assert brinker.cnn_threshold == specificity_at_sensitivity(truth, cnn, sens)[1]


def test_a_resample_where_no_reader_read_a_positive_case_has_no_reader_mean():
    """One reader who read few cases: resamples that draw none of them have no sensitivity
    (NaN, left out of the interval), without a division-by-zero warning."""
    truth = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    cnn = np.array([0.9, 0.8, 0.7, 0.2, 0.6, 0.3, 0.2, 0.1])
    decisions = np.array([[1, 0, 1, 0, 0, 1, 0, 0]], bool)
    graded = np.array([[1, 0, 0, 0, 1, 1, 1, 1]], bool)  # one positive case read
    counts = np.array([[0, 4, 0, 0, 1, 1, 1, 1], [4, 0, 0, 0, 1, 1, 1, 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        brinker, _ = compare_operating_points(truth, cnn, decisions, graded, counts, seed=0)
    assert brinker.target == 1.0  # the study itself: the one positive case read was called
    assert np.isfinite(brinker.target_ci).all()
