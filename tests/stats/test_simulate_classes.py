"""The class-answer simulator: readers hit the mean accuracy asked for, err by the confusion
weights, never 'err' into the true class, and agree more on easy cases."""

from __future__ import annotations

import numpy as np
import pytest

from readerstudy.stats.diagnosis import fleiss_kappa
from readerstudy.stats.simulate_classes import simulate_class_answers


def test_the_panel_accuracy_is_near_the_mean_asked_for_and_reproducible():
    truth = np.arange(2000) % 7
    answers = simulate_class_answers(truth, 7, 40, mean_accuracy=0.6, case_sd=0.0, seed=1)
    assert answers.shape == (40, 2000)
    # With no case effect the panel's accuracy averages expit(logit(0.6) + reader effect).
    assert (answers == truth).mean() == pytest.approx(0.6, abs=0.04)
    again = simulate_class_answers(truth, 7, 40, mean_accuracy=0.6, case_sd=0.0, seed=1)
    assert (answers == again).all()


def test_wrong_answers_follow_the_confusion_weights():
    truth = np.zeros(5000, dtype=int)
    confusion = np.array([[0, 3, 1], [1, 0, 1], [1, 1, 0]])
    answers = simulate_class_answers(
        truth, 3, 1, mean_accuracy=0.01, reader_sd=0, case_sd=0, confusion=confusion, seed=2
    )
    wrong = answers[answers != 0]
    assert (wrong == 1).mean() == pytest.approx(0.75, abs=0.03)


def test_a_shared_case_difficulty_makes_readers_agree_beyond_chance():
    truth = np.arange(600) % 5
    independent = simulate_class_answers(truth, 5, 10, mean_accuracy=0.5, case_sd=0, seed=3)
    shared = simulate_class_answers(truth, 5, 10, mean_accuracy=0.5, case_sd=2.0, seed=3)

    def kappa(answers):
        return fleiss_kappa(answers, classes=range(5)).kappa

    assert kappa(shared) > kappa(independent)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="class indices"):
        simulate_class_answers([0, 3], 3, 2, mean_accuracy=0.5, seed=0)
    with pytest.raises(ValueError, match="mean_accuracy"):
        simulate_class_answers([0, 1], 3, 2, mean_accuracy=1.0, seed=0)
