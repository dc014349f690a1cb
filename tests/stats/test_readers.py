"""Reader points, Wilson intervals, reader AUCs and positions relative to the CNN's curve."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from readerstudy.stats.readers import (
    ReaderInput,
    ReaderInputError,
    average_reader,
    curve_position,
    reader_result,
    reader_results,
    wilson_ci,
)
from readerstudy.stats.roc import RocCurve, auc_ci, paired_test, roc_curve


@pytest.mark.parametrize(("successes", "total"), [(0, 10), (3, 10), (10, 10), (17, 20), (1, 1)])
def test_wilson_interval_matches_scipy(successes, total):
    want = stats.binomtest(successes, total).proportion_ci(0.95, method="wilson")
    got = wilson_ci(successes, total)
    assert got.ci == pytest.approx((want.low, want.high), abs=1e-12)
    assert got.estimate == successes / total


def test_wilson_interval_of_nothing_is_nan():
    result = wilson_ci(0, 0)
    assert math.isnan(result.estimate) and all(math.isnan(x) for x in result.ci)


@pytest.fixture()
def study():
    rng = np.random.default_rng(11)
    truth = (rng.random(80) < 0.3).astype(int)
    truth[:2] = [0, 1]
    cnn = rng.normal(size=80) + 1.5 * truth
    return truth, cnn, roc_curve(truth, cnn)


def test_a_reader_who_always_biopsies_has_sensitivity_1_specificity_0_and_auc_one_half(study):
    truth, cnn, curve = study
    reader = ReaderInput("always", np.arange(80), np.ones(80, bool), np.full(80, 5.0))
    result = reader_result(truth, cnn, reader, curve)
    assert result.sensitivity.estimate == 1.0
    assert result.specificity.estimate == 0.0
    assert 0 < result.sensitivity.ci[0] < 1 and result.sensitivity.ci[1] == 1.0
    assert result.specificity.ci[0] == 0.0 and 0 < result.specificity.ci[1] < 1
    assert result.auc is not None and result.auc.auc == 0.5
    assert result.position == "on"  # (1, 1) is the end of every ROC curve


def test_reader_auc_and_paired_test_use_only_the_reader_s_cases(study):
    truth, cnn, curve = study
    rng = np.random.default_rng(2)
    cases = np.sort(rng.choice(80, 50, replace=False))
    cases[:2] = [0, 1]
    rating = rng.normal(size=50) + truth[cases]
    reader = ReaderInput("partial", cases[::-1], rating[::-1] > 0.5, rating[::-1])
    result = reader_result(truth, cnn, reader, curve)
    want = paired_test(truth[cases], rating, cnn[cases])
    assert result.auc is not None and result.vs_cnn is not None
    assert result.auc.auc == pytest.approx(auc_ci(truth[cases], rating).auc, abs=1e-15)
    assert result.vs_cnn.z == pytest.approx(want.z, abs=1e-12)
    assert result.vs_cnn.p == pytest.approx(want.p, abs=1e-12)
    assert result.n_cases == 50


def test_readers_sharing_cases_get_the_same_results_as_one_by_one(study):
    truth, cnn, curve = study
    rng = np.random.default_rng(3)
    readers = [
        ReaderInput(f"r{i}", np.arange(80), rng.random(80) < 0.5, rng.normal(size=80) + truth)
        for i in range(4)
    ]
    together = reader_results(truth, cnn, readers, curve)
    for reader, result in zip(readers, together, strict=True):
        alone = reader_result(truth, cnn, reader, curve)
        assert result.vs_cnn is not None and alone.vs_cnn is not None
        assert result.vs_cnn.z == pytest.approx(alone.vs_cnn.z, abs=1e-12)
        assert result.reader == reader.reader


def test_a_reader_who_read_only_positives_has_no_specificity_and_no_auc(study):
    truth, cnn, curve = study
    cases = np.flatnonzero(truth == 1)
    reader = ReaderInput("pos", cases, np.ones(len(cases), bool), np.ones(len(cases)))
    result = reader_result(truth, cnn, reader, curve)
    assert math.isnan(result.specificity.estimate)
    assert result.auc is None and result.vs_cnn is None
    assert result.position == "undefined"
    assert average_reader([result]).n_readers == 0


@pytest.mark.parametrize(
    ("reader", "message"),
    [
        (ReaderInput("a", np.array([0, 0]), np.array([True, False]), np.ones(2)), "twice"),
        (ReaderInput("b", np.array([0, 99]), np.array([True, False]), np.ones(2)), "outside"),
        (ReaderInput("c", np.array([0, 1]), np.array([True, False]), np.array([1, np.nan])), "NaN"),
        (ReaderInput("d", np.array([0, 1]), np.array([True]), np.ones(2)), "one length"),
    ],
)
def test_bad_reader_input_is_an_error_naming_the_reader(study, reader, message):
    truth, cnn, curve = study
    with pytest.raises(ReaderInputError, match=f"reader '{reader.reader}'.*{message}"):
        reader_result(truth, cnn, reader, curve)


def test_positions_relative_to_a_curve_with_a_vertical_step():
    curve = RocCurve(
        fpr=np.array([0.0, 0.0, 0.5, 0.5, 1.0]),
        tpr=np.array([0.0, 0.4, 0.6, 0.9, 1.0]),
        thresholds=np.array([np.inf, 3, 2, 1, 0]),
    )
    assert curve_position(curve, 0.25, 0.5) == "on"  # on the sloped segment
    assert curve_position(curve, 0.25, 0.45) == "below"
    assert curve_position(curve, 0.5, 0.75) == "on"  # on the vertical step
    assert curve_position(curve, 0.5, 0.95) == "above"
    assert curve_position(curve, 0.75, 0.9) == "below"
    assert curve_position(curve, 0.0, 0.3) == "on"


def test_average_reader_is_the_mean_of_the_readers_points(study):
    truth, cnn, curve = study
    readers = [
        ReaderInput("a", np.arange(80), truth == 1, np.ones(80)),  # perfect
        ReaderInput("b", np.arange(80), np.ones(80, bool), np.ones(80)),  # always biopsy
    ]
    mean = average_reader(reader_results(truth, cnn, readers, curve))
    assert (mean.n_readers, mean.sensitivity, mean.specificity) == (2, 1.0, 0.5)
