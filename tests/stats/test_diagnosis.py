"""Diagnosis statistics against scikit-learn, statsmodels, scipy and hand-computed tiny cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa

from readerstudy.stats.diagnosis import (
    DiagnosisInputError,
    algorithm_vs_panel,
    cohen_kappa,
    cohen_kappa_pairs,
    confusion_matrix,
    diagnosis_result,
    fleiss_kappa,
    mcnemar_exact,
)

HAM7 = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
TOL = 1e-12


def _answers(rng: np.random.Generator, truth: np.ndarray, skill: float, classes) -> np.ndarray:
    """Right with probability ``skill``, otherwise a uniformly random class."""
    guess = rng.choice(classes, len(truth))
    return np.where(rng.random(len(truth)) < skill, truth, guess)


# scikit-learn warns that an answered class never occurs in the truth: the case under test.
@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_accuracy_mean_recall_and_confusion_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    # An unbalanced truth, as in HAM10000, with one class absent from the truth.
    truth = rng.choice(HAM7[:-1], 150, p=[0.05, 0.1, 0.15, 0.05, 0.15, 0.5])
    answer = _answers(rng, truth, 0.55, HAM7)
    result = diagnosis_result(truth, answer, HAM7)
    assert result.n == 150
    assert result.accuracy.estimate == pytest.approx(metrics.accuracy_score(truth, answer), TOL)
    assert result.mean_recall == pytest.approx(
        metrics.balanced_accuracy_score(truth, answer), abs=TOL
    )
    np.testing.assert_array_equal(
        result.confusion, metrics.confusion_matrix(truth, answer, labels=list(HAM7))
    )


def test_the_confusion_matrix_follows_the_given_class_order():
    order = ("vasc", "nv", "mel", "df", "bkl", "bcc", "akiec")
    rng = np.random.default_rng(7)
    truth = rng.choice(HAM7, 80)
    answer = _answers(rng, truth, 0.5, HAM7)
    np.testing.assert_array_equal(
        confusion_matrix(truth, answer, order),
        metrics.confusion_matrix(truth, answer, labels=list(order)),
    )
    assert not np.array_equal(
        confusion_matrix(truth, answer, order), confusion_matrix(truth, answer, HAM7)
    )


def test_per_class_sensitivity_and_specificity_are_one_against_the_rest():
    rng = np.random.default_rng(11)
    truth = rng.choice(HAM7, 200)
    answer = _answers(rng, truth, 0.6, HAM7)
    result = diagnosis_result(truth, answer, HAM7)
    for rates in result.per_class:
        is_class, said_class = truth == rates.label, answer == rates.label
        assert rates.sensitivity.estimate == pytest.approx(
            metrics.recall_score(is_class, said_class), abs=TOL
        )
        assert rates.specificity.estimate == pytest.approx(
            metrics.recall_score(~is_class, ~said_class), abs=TOL
        )


def test_accuracy_has_the_hand_computed_wilson_interval():
    # 8 of 10 right: Wilson (1927) 95% interval (0.4902, 0.9433) (Newcombe 1998, Table I).
    truth = ["mel"] * 5 + ["nv"] * 5
    answer = ["mel"] * 4 + ["nv"] + ["nv"] * 4 + ["mel"]
    result = diagnosis_result(truth, answer, ("mel", "nv"))
    assert result.accuracy.estimate == 0.8
    z = 1.959963984540054
    centre = (0.8 + z**2 / 20) / (1 + z**2 / 10)
    half = z / (1 + z**2 / 10) * math.sqrt(0.8 * 0.2 / 10 + z**2 / 400)
    assert result.accuracy.ci == pytest.approx((centre - half, centre + half), abs=TOL)
    assert result.accuracy.ci == pytest.approx((0.4902, 0.9433), abs=5e-5)


def test_a_label_outside_the_classes_is_named():
    with pytest.raises(DiagnosisInputError, match=r"reader 'dr_a': 'melanoma' \(entry 1\)"):
        diagnosis_result(["mel", "nv"], ["mel", "melanoma"], ("mel", "nv"), name="reader 'dr_a'")
    with pytest.raises(DiagnosisInputError, match=r"truth: 'scc'"):
        diagnosis_result(["scc"], ["mel"], ("mel", "nv"))


def test_answers_and_truth_of_different_lengths_are_refused():
    with pytest.raises(DiagnosisInputError, match=r"answer has 1 answers but truth has 2 cases"):
        diagnosis_result(["mel", "nv"], ["mel"], ("mel", "nv"))


def test_mcnemar_exact_p_is_the_hand_computed_binomial():
    truth = ["mel"] * 10
    # The algorithm right on 5 cases the reader missed, the reader never alone right:
    # p = 2 * (1/2)^5 = 0.0625.
    algorithm = ["mel"] * 10
    reader = ["nv"] * 5 + ["mel"] * 5
    test = mcnemar_exact(truth, algorithm, reader, ("mel", "nv"))
    assert (test.algorithm_only, test.reader_only, test.n_cases) == (5, 0, 10)
    assert test.p == pytest.approx(0.0625, abs=TOL)
    # b = 3, c = 1: p = 2 * (C(4,0) + C(4,1)) / 2^4 = 0.625.
    algorithm = ["mel"] * 3 + ["nv"] + ["mel"] * 6
    reader = ["nv"] * 3 + ["mel"] * 7
    test = mcnemar_exact(truth, algorithm, reader, ("mel", "nv"))
    assert (test.algorithm_only, test.reader_only) == (3, 1)
    assert test.p == pytest.approx(0.625, abs=TOL)


def test_mcnemar_without_discordant_cases_has_p_one():
    test = mcnemar_exact(["mel", "nv"], ["mel", "mel"], ["mel", "mel"], ("mel", "nv"))
    assert (test.algorithm_only, test.reader_only, test.p) == (0, 0, 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mcnemar_equals_scipy_binomtest_on_the_discordant_pairs(seed):
    rng = np.random.default_rng(seed)
    truth = rng.choice(HAM7, 120)
    algorithm = _answers(rng, truth, 0.7, HAM7)
    reader = _answers(rng, truth, 0.55, HAM7)
    test = mcnemar_exact(truth, algorithm, reader, HAM7)
    b = int(((algorithm == truth) & (reader != truth)).sum())
    c = int(((algorithm != truth) & (reader == truth)).sum())
    assert (test.algorithm_only, test.reader_only) == (b, c)
    assert test.p == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, abs=TOL)


@pytest.mark.parametrize(("seed", "n_readers"), [(0, 2), (1, 5), (2, 12)])
def test_fleiss_kappa_equals_statsmodels(seed, n_readers):
    rng = np.random.default_rng(seed)
    truth = rng.choice(HAM7, 90)
    answers = np.array([_answers(rng, truth, 0.5, HAM7) for _ in range(n_readers)])
    table, _ = aggregate_raters(answers.T)
    result = fleiss_kappa(answers, HAM7)
    assert (result.n_readers, result.n_cases) == (n_readers, 90)
    assert result.kappa == pytest.approx(statsmodels_fleiss_kappa(table, method="fleiss"), abs=TOL)


def test_fleiss_kappa_of_a_tiny_hand_computed_case():
    # Three readers, two cases: unanimous "mel" on one, 2 "nv" + 1 "mel" on the other.
    # P_i = 1 and 1/3, P_bar = 2/3; p_mel = 4/6, p_nv = 2/6, P_e = 5/9; kappa = 1/4.
    answers = [["mel", "nv"], ["mel", "nv"], ["mel", "mel"]]
    assert fleiss_kappa(answers, ("mel", "nv")).kappa == pytest.approx(0.25, abs=TOL)


def test_fleiss_kappa_is_undefined_when_everyone_answers_one_class():
    assert math.isnan(fleiss_kappa([["nv", "nv"], ["nv", "nv"]], ("mel", "nv")).kappa)


def test_fleiss_kappa_needs_two_readers():
    with pytest.raises(DiagnosisInputError, match="at least two readers"):
        fleiss_kappa([["mel", "nv"]], ("mel", "nv"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cohen_kappa_equals_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    truth = rng.choice(HAM7, 100)
    first, second = _answers(rng, truth, 0.6, HAM7), _answers(rng, truth, 0.4, HAM7)
    result = cohen_kappa(first, second, HAM7, reader_a="dr_a", reader_b="dr_b")
    assert (result.reader_a, result.reader_b, result.n_cases) == ("dr_a", "dr_b", 100)
    assert result.kappa == pytest.approx(metrics.cohen_kappa_score(first, second), abs=TOL)


def test_cohen_kappa_of_every_pair_equals_scikit_learn_on_the_common_cases():
    rng = np.random.default_rng(8)
    truth = rng.choice(HAM7, 60)
    answers = np.array([_answers(rng, truth, s, HAM7) for s in (0.3, 0.5, 0.7, 0.6)], dtype=object)
    answers[1, :20] = None  # reader r1 skipped the first 20 cases
    answers[2, 50:] = None  # r2 the last 10
    answers[3, :] = None
    answers[3, 55:] = truth[55:]  # r3 read only the last five, none of which r2 read
    pairs = cohen_kappa_pairs(answers, HAM7, ["r0", "r1", "r2", "r3"])
    by_pair = {(p.reader_a, p.reader_b): p for p in pairs}
    assert ("r2", "r3") not in by_pair
    assert len(pairs) == 5
    for (a, b), pair in by_pair.items():
        first, second = answers[int(a[1])], answers[int(b[1])]
        both = np.array(
            [x is not None and y is not None for x, y in zip(first, second, strict=True)]
        )
        assert pair.n_cases == both.sum()
        want = metrics.cohen_kappa_score(first[both].astype(str), second[both].astype(str))
        assert pair.kappa == pytest.approx(want, abs=TOL)


def test_the_panel_difference_is_the_algorithm_minus_the_mean_reader():
    rng = np.random.default_rng(5)
    truth = rng.choice(HAM7, 120)
    algorithm = _answers(rng, truth, 0.7, HAM7)
    readers = np.array([_answers(rng, truth, s, HAM7) for s in (0.4, 0.5, 0.6, 0.65)])
    result = algorithm_vs_panel(truth, algorithm, readers, HAM7, n_bootstrap=500, seed=3)
    want_readers = np.mean([metrics.accuracy_score(truth, r) for r in readers])
    assert result.algorithm_accuracy == pytest.approx(metrics.accuracy_score(truth, algorithm))
    assert result.reader_mean_accuracy == pytest.approx(want_readers, abs=TOL)
    assert result.diff == pytest.approx(result.algorithm_accuracy - want_readers, abs=TOL)
    assert result.diff_ci[0] < result.diff < result.diff_ci[1]
    again = algorithm_vs_panel(truth, algorithm, readers, HAM7, n_bootstrap=500, seed=3)
    assert again.diff_ci == result.diff_ci
    other = algorithm_vs_panel(truth, algorithm, readers, HAM7, n_bootstrap=500, seed=4)
    assert other.diff_ci != result.diff_ci


def test_readers_who_answer_as_the_algorithm_give_a_zero_interval():
    rng = np.random.default_rng(6)
    truth = rng.choice(HAM7, 50)
    algorithm = _answers(rng, truth, 0.6, HAM7)
    result = algorithm_vs_panel(truth, algorithm, [algorithm, algorithm], HAM7, n_bootstrap=200)
    assert result.diff == 0 and result.diff_ci == (0.0, 0.0)


def test_the_panel_interval_resamples_readers_as_well_as_cases():
    # One reader always right, one always wrong, the algorithm right on half the cases: over
    # cases alone the reader mean is always 1/2; drawing readers makes it 0 or 1 a quarter of
    # the time each, so the interval must reach about +/- 1/2.
    truth = np.array(["mel", "nv"] * 100)
    wrong = np.where(truth == "mel", "nv", "mel")
    algorithm = np.concatenate([truth[:100], wrong[100:]])
    result = algorithm_vs_panel(truth, algorithm, [truth, wrong], ("mel", "nv"), seed=1)
    assert result.diff == pytest.approx(0.0, abs=TOL)
    assert result.diff_ci[0] < -0.35 and result.diff_ci[1] > 0.35


def test_the_panel_needs_a_reader_per_row_and_an_answer_per_case():
    with pytest.raises(DiagnosisInputError, match=r"reader answers must be \(readers, 2 cases\)"):
        algorithm_vs_panel(["mel", "nv"], ["mel", "nv"], [["mel"]], ("mel", "nv"))
