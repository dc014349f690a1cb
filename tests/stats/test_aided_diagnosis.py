"""Diagnosis read unaided then aided (readerstudy.stats.aided_diagnosis): a hand-counted
panel, scikit-learn and scipy cross-checks, and the bootstrap written out."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics

from readerstudy.stats.aided_diagnosis import aided_diagnosis
from readerstudy.stats.bootstrap import case_reader_counts
from readerstudy.stats.diagnosis import DiagnosisInputError
from readerstudy.stats.means import mean_t_ci

CLASSES = ("mel", "nv", "bkl")
TRUTH = ["mel", "mel", "nv", "nv", "nv", "bkl"]
# ana: unaided right on 2 of 6, aided right on 5 of 6; ben: 4 of 6 both times.
UNAIDED = [
    ["nv", "mel", "mel", "nv", "bkl", "nv"],
    ["mel", "nv", "nv", "nv", "mel", "bkl"],
]
AIDED = [
    ["mel", "mel", "nv", "nv", "nv", "nv"],
    ["mel", "mel", "nv", "bkl", "mel", "bkl"],
]


@pytest.fixture(scope="module")
def panel():
    return aided_diagnosis(
        TRUTH, UNAIDED, AIDED, CLASSES, readers=["ana", "ben"], n_bootstrap=300, seed=4
    )


def test_per_reader_accuracy_and_mean_recall_by_hand(panel):
    ana, ben = panel.per_reader
    assert ana.reader == "ana"
    assert ana.unaided.accuracy.estimate == pytest.approx(2 / 6)
    assert ana.aided.accuracy.estimate == pytest.approx(5 / 6)
    assert ana.accuracy_change == pytest.approx(3 / 6)
    # ana unaided recalls: mel 1/2, nv 1/3, bkl 0/1; aided: mel 2/2, nv 3/3, bkl 0/1.
    assert ana.unaided.mean_recall == pytest.approx((1 / 2 + 1 / 3 + 0) / 3)
    assert ana.aided.mean_recall == pytest.approx((1 + 1 + 0) / 3)
    # ben unaided: mel 1/2, nv 2/3, bkl 1/1; aided: mel 2/2, nv 1/3, bkl 1/1.
    assert ben.unaided.mean_recall == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert ben.aided.mean_recall == pytest.approx((1 + 1 / 3 + 1) / 3)
    assert ben.accuracy_change == pytest.approx(0.0)


def test_mcnemar_counts_the_cases_each_phase_alone_got_right(panel):
    ana, ben = panel.per_reader
    # ana: right only aided on cases 1, 3 and 5; never right only unaided.
    assert (ana.mcnemar.aided_only, ana.mcnemar.unaided_only) == (3, 0)
    assert ana.mcnemar.p == pytest.approx(2 * 0.5**3)
    # ben: right only aided on case 2, only unaided on case 4: p = 1.
    assert (ben.mcnemar.aided_only, ben.mcnemar.unaided_only) == (1, 1)
    assert ben.mcnemar.p == pytest.approx(1.0)


def test_the_mean_change_has_the_t_interval_over_readers(panel):
    changes = [3 / 6, 0.0]
    reference = stats.ttest_1samp(changes, 0.0)
    assert panel.accuracy.change.mean == pytest.approx(0.25)
    assert panel.accuracy.change.ci == pytest.approx(
        tuple(reference.confidence_interval(0.95)), abs=1e-12
    )
    assert panel.accuracy.change.p == pytest.approx(reference.pvalue, abs=1e-12)
    assert panel.accuracy.unaided == pytest.approx((2 / 6 + 4 / 6) / 2)
    assert panel.accuracy.aided == pytest.approx((5 / 6 + 4 / 6) / 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accuracy_and_mean_recall_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    classes = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
    truth = rng.choice(classes, 90)
    unaided = np.where(rng.random((4, 90)) < 0.5, truth, rng.choice(classes, (4, 90)))
    aided = np.where(rng.random((4, 90)) < 0.7, truth, rng.choice(classes, (4, 90)))
    result = aided_diagnosis(truth, unaided, aided, classes, n_bootstrap=20, seed=seed)
    for j, reader in enumerate(result.per_reader):
        assert reader.unaided.accuracy.estimate == pytest.approx(
            metrics.accuracy_score(truth, unaided[j]), abs=1e-12
        )
        assert reader.aided.mean_recall == pytest.approx(
            metrics.balanced_accuracy_score(truth, aided[j]), abs=1e-12
        )
        assert reader.mean_recall_change == pytest.approx(
            metrics.balanced_accuracy_score(truth, aided[j])
            - metrics.balanced_accuracy_score(truth, unaided[j]),
            abs=1e-12,
        )


def test_the_bootstrap_interval_is_the_case_and_reader_bootstrap_written_out():
    rng = np.random.default_rng(8)
    truth = rng.choice(CLASSES, 40)
    unaided = np.where(rng.random((3, 40)) < 0.5, truth, rng.choice(CLASSES, (3, 40)))
    aided = np.where(rng.random((3, 40)) < 0.8, truth, rng.choice(CLASSES, (3, 40)))
    result = aided_diagnosis(truth, unaided, aided, CLASSES, n_bootstrap=60, seed=11)
    case_counts, reader_counts = case_reader_counts(40, 3, 60, 11)
    accuracy, recall = [], []
    for b in range(60):
        drawn = case_counts[b] > 0
        weight = case_counts[b][drawn]
        acc_change = recall_change = 0.0
        for j in range(3):
            times = reader_counts[b, j]
            for answers, sign in ((aided, 1), (unaided, -1)):
                acc_change += (
                    sign
                    * times
                    * metrics.accuracy_score(truth[drawn], answers[j][drawn], sample_weight=weight)
                )
                recall_change += (
                    sign
                    * times
                    * metrics.balanced_accuracy_score(
                        truth[drawn], answers[j][drawn], sample_weight=weight
                    )
                )
        accuracy.append(acc_change / 3)
        recall.append(recall_change / 3)
    assert result.accuracy.bootstrap_ci == pytest.approx(
        tuple(np.quantile(accuracy, [0.025, 0.975])), abs=1e-12
    )
    assert result.mean_recall.bootstrap_ci == pytest.approx(
        tuple(np.quantile(recall, [0.025, 0.975])), abs=1e-12
    )


def test_a_single_reader_has_no_t_interval():
    one = mean_t_ci([0.2])
    assert one.mean == 0.2 and np.isnan(one.ci[0]) and one.df == 0


def test_answers_outside_the_classes_are_refused():
    aided = [row[:] for row in AIDED]
    aided[1][2] = "scc"
    with pytest.raises(DiagnosisInputError, match="'scc'"):
        aided_diagnosis(TRUTH, UNAIDED, aided, CLASSES, n_bootstrap=10)


def test_phases_of_different_shapes_are_refused():
    with pytest.raises(DiagnosisInputError, match="aided answers"):
        aided_diagnosis(TRUTH, UNAIDED, AIDED[:1], CLASSES, n_bootstrap=10)
