"""The Roe-Metz simulator: calibration to target operating points, spread, and its MRMC form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from readerstudy.stats.mrmc import or_hillis
from readerstudy.stats.roc import auc_ci
from readerstudy.stats.simulate import (
    RoeMetzParameters,
    simulate_algorithm_and_readers,
    simulate_cnn_scores,
    simulate_mrmc,
    simulate_reader_panel,
)

BRINKER_TRUTH = np.array([1] * 20 + [0] * 80)  # 20 melanomas, 80 nevi


def _rates(panel, truth):
    positive = truth.astype(bool)
    return panel.decision[:, positive].mean(axis=1), (~panel.decision[:, ~positive]).mean(axis=1)


@pytest.mark.parametrize(("n_readers", "seed"), [(145, 0), (145, 1), (21, 2), (21, 3)])
def test_panel_hits_brinker_s_mean_sensitivity_and_specificity_on_a_100_case_study(n_readers, seed):
    panel = simulate_reader_panel(
        BRINKER_TRUTH, n_readers, mean_sensitivity=0.894, mean_specificity=0.644, seed=seed
    )
    sensitivity, specificity = _rates(panel, BRINKER_TRUTH)
    # the documented tolerance: half a reading of the class over the panel
    assert abs(sensitivity.mean() - 0.894) <= 1 / (2 * n_readers * 20)
    assert abs(specificity.mean() - 0.644) <= 1 / (2 * n_readers * 80)


def test_readers_spread_over_operating_points_like_brinker_s_dermatologists():
    panel = simulate_reader_panel(
        BRINKER_TRUTH, 145, mean_sensitivity=0.894, mean_specificity=0.644, seed=0
    )
    sensitivity, specificity = _rates(panel, BRINKER_TRUTH)
    assert 0.4 <= sensitivity.min() <= 0.75 and sensitivity.max() == 1.0
    assert 0.05 <= specificity.min() <= 0.35 and 0.85 <= specificity.max() <= 1.0


def test_population_calibration_hits_the_targets_on_average_over_studies():
    rates = np.array(
        [
            [r.mean() for r in _rates(panel, BRINKER_TRUTH)]
            for panel in (
                simulate_reader_panel(
                    BRINKER_TRUTH,
                    50,
                    mean_sensitivity=0.894,
                    mean_specificity=0.644,
                    seed=seed,
                    calibrate="population",
                )
                for seed in range(60)
            )
        ]
    )
    assert rates.mean(axis=0) == pytest.approx([0.894, 0.644], abs=0.015)


def test_ratings_lie_on_the_scale_and_rise_with_the_decision():
    panel = simulate_reader_panel(
        BRINKER_TRUTH, 10, mean_sensitivity=0.8, mean_specificity=0.7, seed=4, rating_scale=(1, 5)
    )
    assert set(np.unique(panel.rating)) <= {1, 2, 3, 4, 5}
    assert panel.rating[panel.decision].min() >= 3
    assert panel.rating[~panel.decision].max() <= 3
    for rating in panel.rating:
        assert auc_ci(BRINKER_TRUTH, rating).auc > 0.6


def test_the_same_seed_gives_the_same_panel():
    first, again = (
        simulate_reader_panel(BRINKER_TRUTH, 5, mean_sensitivity=0.9, mean_specificity=0.6, seed=7)
        for _ in range(2)
    )
    np.testing.assert_array_equal(first.rating, again.rating)


def test_targets_worse_than_chance_are_refused():
    with pytest.raises(ValueError, match="better than chance"):
        simulate_reader_panel(BRINKER_TRUTH, 5, mean_sensitivity=0.4, mean_specificity=0.5, seed=0)


def test_cnn_scores_are_probabilities_with_about_the_requested_auc():
    truth = np.array([1] * 500 + [0] * 1500)
    scores = simulate_cnn_scores(truth, auc=0.91, seed=1)
    assert ((scores > 0) & (scores < 1)).all()
    assert auc_ci(truth, scores).auc == pytest.approx(0.91, abs=0.02)


def test_or_test_under_the_null_rejects_at_about_the_nominal_rate():
    # A power check in miniature: equal separations, so about 5% of studies reject.
    truth = np.array([1] * 40 + [0] * 60)
    params = RoeMetzParameters(
        var_reader=0.02, var_case=0.3, var_reader_case=0.2,
        var_modality_reader=0.02, var_modality_case=0.1, var_modality_reader_case=0.36,
    )  # fmt: skip
    rejections = [
        or_hillis(
            truth, simulate_mrmc(truth, 5, [1.5, 1.5], seed=s, parameters=params).ratings
        ).rrrc.p
        < 0.05
        for s in range(200)
    ]
    assert 0.01 <= np.mean(rejections) <= 0.10


def test_mrmc_simulation_separates_modalities_that_differ():
    truth = np.array([1] * 50 + [0] * 50)
    design = simulate_mrmc(truth, 6, [0.8, 2.0], seed=3)
    result = or_hillis(design.truth, design.ratings)
    assert result.mean_auc[1] > result.mean_auc[0]
    assert design.ratings.shape == (2, 6, 100)


def test_a_fixed_algorithm_and_a_panel_reach_their_population_aucs():
    truth = np.array([1] * 1000 + [0] * 1000)
    params = RoeMetzParameters(var_reader=0.04, var_case=0.3, var_reader_case=0.6)
    design = simulate_algorithm_and_readers(
        truth,
        40,
        reader_separation=1.3,
        algorithm_separation=1.0,
        seed=2,
        parameters=params,
        var_algorithm_case=0.6,
    )
    assert design.readers[0] == "algorithm" and design.ratings.shape == (1, 41, 2000)
    algorithm = auc_ci(truth, design.ratings[0, 0]).auc
    readers = np.mean([auc_ci(truth, r).auc for r in design.ratings[0, 1:]])
    assert algorithm == pytest.approx(stats.norm.cdf(1.0 / np.sqrt(2 * 0.9)), abs=0.02)
    assert readers == pytest.approx(stats.norm.cdf(1.3 / np.sqrt(2 * 0.94)), abs=0.02)
    with pytest.raises(ValueError, match="var_algorithm_case"):
        simulate_algorithm_and_readers(
            truth, 2, reader_separation=1, algorithm_separation=1, seed=0, var_algorithm_case=-1
        )
