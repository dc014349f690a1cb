"""The aided-reading simulator (readerstudy.stats.simulate_aided): its limits and monotone
behaviour on a Roe-Metz panel and a simulated CNN."""

from __future__ import annotations

import numpy as np
import pytest

from readerstudy.stats.aided_mrmc import aided_mrmc
from readerstudy.stats.simulate import simulate_cnn_scores, simulate_reader_panel
from readerstudy.stats.simulate_aided import (
    choose_faulty_cases,
    reader_reliance,
    simulate_aided_answers,
    simulate_aided_reading,
)
from readerstudy.stats.switching import switching_analysis

TRUTH = np.array([1] * 60 + [0] * 140)


@pytest.fixture(scope="module")
def panel():
    return simulate_reader_panel(TRUTH, 16, mean_sensitivity=0.72, mean_specificity=0.68, seed=21)


@pytest.fixture(scope="module")
def good_cnn():
    return simulate_cnn_scores(TRUTH, auc=0.96, seed=21)


def _aided(panel, cnn, bias, **kwargs):
    return simulate_aided_reading(
        TRUTH, panel.decision, panel.rating, cnn, automation_bias=bias, seed=4, **kwargs
    )


def _accuracy(decision, cases=slice(None)):
    return (decision[:, cases] == TRUTH[None, cases].astype(bool)).mean(axis=1)


def test_without_automation_bias_the_aided_answers_are_the_unaided_ones(panel, good_cnn):
    aided = _aided(panel, good_cnn, 0.0)
    np.testing.assert_array_equal(aided.decision, panel.decision)
    np.testing.assert_array_equal(aided.rating, panel.rating)
    assert (aided.reliance == 0).all()


def test_with_full_automation_bias_every_reader_adopts_the_cnn(panel, good_cnn):
    aided = _aided(panel, good_cnn, 1.0)
    np.testing.assert_array_equal(aided.decision, np.tile(good_cnn > 0.5, (16, 1)))


def test_more_automation_bias_never_lowers_agreement_with_the_cnn(panel, good_cnn):
    cnn_says = good_cnn > 0.5
    previous = panel.decision == cnn_says
    agreement = [previous.mean()]
    for bias in (0.2, 0.4, 0.6, 0.8, 1.0):
        agrees = _aided(panel, good_cnn, bias).decision == cnn_says
        assert (agrees >= previous).all()  # reading by reading
        agreement.append(agrees.mean())
        previous = agrees
    assert agreement[-1] == 1.0 and agreement[0] < agreement[2] < agreement[-1]


def test_a_good_cnn_helps_the_weaker_readers_most(panel, good_cnn):
    unaided = _accuracy(panel.decision)
    aided = _accuracy(_aided(panel, good_cnn, 0.6).decision)
    assert aided.mean() > unaided.mean() + 0.03
    assert np.corrcoef(unaided, aided - unaided)[0, 1] < -0.5


def test_inverted_cases_mislead_every_reader_who_leans_on_the_ai(panel, good_cnn):
    faulty = choose_faulty_cases(len(TRUTH), 0.2, seed=3)
    assert faulty.sum() == 40
    aided = _aided(panel, good_cnn, 0.6, faulty=faulty)
    np.testing.assert_allclose(aided.shown_score[faulty], 1 - good_cnn[faulty])
    before = _accuracy(panel.decision, faulty)
    after = _accuracy(aided.decision, faulty)
    leaning = aided.reliance > 0.3
    assert leaning.sum() >= 12
    assert (after[leaning] < before[leaning]).all()
    assert after.mean() < before.mean() - 0.2
    # Elsewhere the same readers still gain.
    fine = ~faulty
    assert _accuracy(aided.decision, fine).mean() > _accuracy(panel.decision, fine).mean()


def test_more_accurate_readers_rely_less_on_the_ai():
    accuracy = np.array([0.6, 0.7, 0.8, 0.9])
    weight = reader_reliance(accuracy, 0.5, seed=0, reliance_sd=0.0)
    assert (np.diff(weight) < 0).all()
    assert reader_reliance(accuracy, 0.5, seed=0, reliance_sd=0.0, skill_effect=0.0) == (
        pytest.approx([0.5] * 4)
    )


def test_automation_bias_outside_zero_one_is_refused(panel, good_cnn):
    with pytest.raises(ValueError, match=r"automation_bias must lie in \[0, 1\]"):
        _aided(panel, good_cnn, 1.5)


def test_aided_diagnosis_answers_adopt_the_ais_answer_more_with_more_bias():
    rng = np.random.default_rng(0)
    classes = np.array(["mel", "nv", "bkl"])
    truth = rng.choice(classes, 80)
    unaided = np.where(rng.random((6, 80)) < 0.6, truth, rng.choice(classes, (6, 80)))
    ai = np.where(rng.random(80) < 0.85, truth, rng.choice(classes, 80))
    none = simulate_aided_answers(truth, unaided, ai, automation_bias=0.0, seed=2)
    assert not none.changed.any()
    np.testing.assert_array_equal(none.answer, unaided)
    adopted = None
    for bias in (0.3, 0.7, 1.0):
        result = simulate_aided_answers(truth, unaided, ai, automation_bias=bias, seed=2)
        if adopted is not None:
            assert (result.changed >= adopted).all()
        adopted = result.changed
        np.testing.assert_array_equal(
            result.answer[result.changed], np.tile(ai, (6, 1))[result.changed]
        )
    assert (result.answer == ai[None, :]).all()


def test_a_simulated_aided_panel_feeds_the_aided_analyses(panel, good_cnn):
    # The demo's path: the MRMC on sensitivity and the switching table of one aided panel.
    faulty = choose_faulty_cases(len(TRUTH), 0.1, seed=3)
    aided = _aided(panel, good_cnn, 0.5, faulty=faulty)
    sensitivity = aided_mrmc(TRUTH, panel.decision, aided.decision, metric="sensitivity")
    assert sensitivity.mean_change > 0 and sensitivity.rrrc.ci[0] > 0
    positive = TRUTH.astype(bool)
    switching = switching_analysis(
        panel.decision == positive,
        (aided.shown_score > 0.5) == positive,
        aided.decision == positive,
        panel.decision != aided.decision,
        n_bootstrap=200,
    )
    assert 0 < switching.misled.estimate < switching.helped.estimate < 1
