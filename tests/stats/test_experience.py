"""Benefit of AI support by experience band (readerstudy.stats.experience), by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from readerstudy.stats.experience import ExperienceInputError, benefit_by_experience

ORDER = ("<3", "3-10", ">10")
BANDS = ["<3", "<3", "3-10", "3-10", ">10"]
CHANGE = [0.1, 0.2, 0.05, 0.0, -0.1]


@pytest.fixture(scope="module")
def result():
    return benefit_by_experience(CHANGE, BANDS, ORDER, n_permutations=20000, seed=5)


def test_each_band_has_its_mean_change_with_a_t_interval(result):
    novice, middle, senior = result.bands
    assert (novice.band, novice.rank, novice.change.n) == ("<3", 0, 2)
    assert novice.change.mean == pytest.approx(0.15)
    # Two readers: sd = |0.2 - 0.1| / sqrt(2), se = sd / sqrt(2) = 0.05, t on 1 df.
    half = stats.t.ppf(0.975, 1) * 0.05
    assert novice.change.ci == pytest.approx((0.15 - half, 0.15 + half))
    assert middle.change.mean == pytest.approx(0.025)
    assert senior.change.n == 1 and np.isnan(senior.change.ci[0])


def test_the_trend_is_the_least_squares_slope_on_band_rank(result):
    # ranks 0 0 1 1 2: mean 0.8, Sxx = 2.8; Sxy = -0.35, so the slope is -0.125.
    trend = result.trend
    assert trend.slope == pytest.approx(-0.125)
    intercept = 0.05 - (-0.125) * 0.8
    assert trend.intercept == pytest.approx(intercept)
    rank = np.array([0, 0, 1, 1, 2])
    residuals = np.array(CHANGE) - (intercept - 0.125 * rank)
    se = np.sqrt((residuals**2).sum() / 3 / 2.8)
    assert trend.se == pytest.approx(se)
    half = stats.t.ppf(0.975, 3) * se
    assert trend.ci == pytest.approx((-0.125 - half, -0.125 + half))
    assert trend.df == 3
    assert trend.p == pytest.approx(2 * stats.t.sf(0.125 / se, 3))


def test_jonckheere_counts_pairs_and_its_permutation_p_is_near_the_exact_one(result):
    # The change falls strictly with experience: no pair in increasing bands increases.
    assert result.jonckheere.statistic == 0.0
    assert result.jonckheere.expected == pytest.approx((25 - (4 + 4 + 1)) / 4)
    # Exact: of the distinct band arrangements, |J - 4| >= 4 only for the two extremes.
    arrangements = set(itertools.permutations([0, 0, 1, 1, 2]))
    values = np.array(CHANGE)
    extreme = 0
    for ranks in arrangements:
        r = np.array(ranks)
        j = sum(
            (values[b] > values[a]) + 0.5 * (values[b] == values[a])
            for a in range(5)
            for b in range(5)
            if r[a] < r[b]
        )
        extreme += abs(j - 4) >= 4
    assert extreme == 2 and len(arrangements) == 30
    assert result.jonckheere.p == pytest.approx(2 / 30, abs=0.01)


def test_the_permutation_test_is_seeded():
    first = benefit_by_experience(CHANGE, BANDS, ORDER, n_permutations=300, seed=1)
    again = benefit_by_experience(CHANGE, BANDS, ORDER, n_permutations=300, seed=1)
    assert first.jonckheere.p == again.jonckheere.p


def test_a_single_band_has_no_trend():
    result = benefit_by_experience([0.1, 0.2, 0.3], ["<3"] * 3, ORDER, n_permutations=10)
    assert np.isnan(result.trend.slope)
    assert [b.change.n for b in result.bands] == [3, 0, 0]


def test_an_unknown_band_is_refused():
    with pytest.raises(ExperienceInputError, match="'5-8'"):
        benefit_by_experience([0.1, 0.2], ["<3", "5-8"], ORDER)


def test_one_change_per_reader_is_required():
    with pytest.raises(ExperienceInputError, match="one value per reader"):
        benefit_by_experience([0.1], ["<3", ">10"], ORDER)
