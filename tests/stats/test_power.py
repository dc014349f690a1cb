"""Power and sample size from a pilot: RJafroc 2.1.3's own expectations on the Van Dyke data,
the single-algorithm design against its two-modality twin, and a Roe-Metz simulation in which
the planned power matches the rejection rate of the OR test."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from readerstudy.stats.mrmc import OrComponents, algorithm_vs_readers, or_hillis
from readerstudy.stats.power import (
    ANALYSES,
    PlanningError,
    algorithm_pilot,
    cases_needed,
    pilot_from_or_components,
    power_given_jk,
    power_table,
    two_modality_pilot,
)
from readerstudy.stats.simulate import (
    RoeMetzParameters,
    simulate_algorithm_and_readers,
    simulate_mrmc,
)


@pytest.fixture(scope="module")
def pilot(vandyke):
    return two_modality_pilot(vandyke.truth, vandyke.ratings)


def test_power_of_six_readers_and_111_cases_is_rjafroc_s(pilot):
    # RJafroc tests/testthat: SsPowerGivenJK(dataset02, FOM = "Wilcoxon", J = 6, K = 111,
    # method = "OR", analysisOption = "RRRC")$powerRRRC == 0.5526116 (tolerance 5e-8).
    assert power_given_jk(pilot, 6, 111).power == pytest.approx(0.5526116, abs=5e-8)


def test_six_readers_need_251_cases_as_rjafroc_finds(pilot):
    # SsSampleSizeKGivenJ(dataset02, J = 6, FOM = "Wilcoxon", analysisOption = "RRRC")$KRRRC
    needed = cases_needed(pilot, 6)
    assert needed is not None
    assert needed.cases == 251
    assert needed.power > 0.8
    assert power_given_jk(pilot, 6, 250).power <= 0.8


def test_the_pilot_uses_the_observed_difference_and_the_or_components(pilot, vandyke):
    result = or_hillis(vandyke.truth, vandyke.ratings)
    assert pilot.observed_effect == pytest.approx(-0.04380032, abs=5e-9)
    assert (pilot.n_readers, pilot.n_cases) == (5, 114)
    assert pilot.components["var_tr"] == result.components.var_tr
    assert pilot.components["cov3"] == pytest.approx(0.00023903, abs=5e-9)


def test_published_components_plan_as_the_pilot_data(pilot):
    # RJafroc's EXAMPLE 4A: the Van Dyke components typed in give the dataset's power.
    typed = pilot_from_or_components(
        OrComponents(
            var_r=0.0015349993,
            var_tr=0.00020040252,
            cov1=0.00034661371,
            cov2=0.00034407483,
            cov3=0.00023902837,
            var_error=0.00080228827,
        ),
        n_readers=5,
        n_cases=114,
        effect=0.05,
    )
    from_data = power_given_jk(pilot, 6, 251, effect=0.05).power
    assert power_given_jk(typed, 6, 251).power == pytest.approx(from_data, abs=1e-8)


@pytest.mark.parametrize("analysis", ANALYSES)
def test_no_difference_has_the_power_alpha(pilot, analysis):
    assert power_given_jk(pilot, 8, 200, effect=0.0, analysis=analysis).power == pytest.approx(
        0.05, abs=1e-12
    )


@pytest.mark.parametrize("analysis", ANALYSES)
def test_power_rises_with_readers_and_with_cases(pilot, analysis):
    rows = power_table(pilot, range(3, 11), [100, 200, 400], analysis=analysis)
    grid = np.array([row.power for row in rows]).reshape(8, 3)
    assert (np.diff(grid, axis=0) > 0).all()
    assert (np.diff(grid, axis=1) > 0).all()
    assert [(row.readers, row.cases) for row in rows[:4]] == [
        (3, 100),
        (3, 200),
        (3, 400),
        (4, 100),
    ]


def test_fixed_readers_power_is_a_noncentral_chi_square(pilot):
    result = power_given_jk(pilot, 6, 111, analysis="frrc")
    den = (114 / 111) * (pilot.var_error + 5 * pilot.cov_error)
    ncp = 6 * pilot.observed_effect**2 / den
    assert result.ncp == pytest.approx(ncp, rel=1e-12)
    assert result.power == pytest.approx(stats.ncx2.sf(stats.chi2.isf(0.05, 1), 1, ncp))
    assert result.ddf == float("inf")


def test_fixed_cases_cannot_beat_reader_variability_with_more_cases(pilot):
    # With cases fixed, power tends to a limit below 1 as K grows; 3 readers never reach 99%.
    assert cases_needed(pilot, 3, power=0.99, analysis="rrfc") is None
    assert cases_needed(pilot, 3, power=0.99, analysis="rrrc") is None
    assert cases_needed(pilot, 3, power=0.5, analysis="frrc") is not None


@pytest.mark.parametrize("analysis", ANALYSES)
def test_algorithm_design_plans_as_the_two_modality_design_with_the_algorithm_copied(
    vandyke, analysis
):
    # Hillis (2007): the single-treatment test is the two-modality test with the algorithm
    # read by every reader as the second modality; so is its power.
    algorithm = vandyke.ratings[1, 0]
    readers = vandyke.ratings[0]
    single = algorithm_pilot(vandyke.truth, algorithm, readers)
    twin = two_modality_pilot(vandyke.truth, np.stack([readers, np.tile(algorithm, (5, 1))]))
    assert single.observed_effect == pytest.approx(twin.observed_effect, abs=1e-15)
    for j, k in ((4, 80), (10, 300)):
        a = power_given_jk(single, j, k, effect=0.04, analysis=analysis)
        b = power_given_jk(twin, j, k, effect=0.04, analysis=analysis)
        assert a.power == pytest.approx(b.power, rel=1e-10)
        assert a.ddf == pytest.approx(b.ddf, rel=1e-10)
    needed = cases_needed(single, 6, effect=0.08, analysis=analysis)
    twin_needed = cases_needed(twin, 6, effect=0.08, analysis=analysis)
    assert needed is not None and twin_needed is not None
    assert needed.cases == twin_needed.cases


def test_algorithm_pilot_reports_its_components(vandyke):
    single = algorithm_pilot(vandyke.truth, vandyke.ratings[1, 0], vandyke.ratings[0])
    assert set(single.components) == {"ms_r", "var_r", "var_error", "cov2"}
    assert single.design == "algorithm-vs-readers"
    assert single.var_reader == max(single.components["var_r"], 0.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: power_given_jk(p, 1, 100), "two readers"),
        (lambda p: power_given_jk(p, 5, 1), "two cases"),
        (lambda p: power_given_jk(p, 5, 100, alpha=1.5), "alpha"),
        (lambda p: power_given_jk(p, 5, 100, analysis="mixed"), "rrrc, frrc, rrfc"),
        (lambda p: cases_needed(p, 5, power=1.0), "target power"),
    ],
)
def test_impossible_requests_are_refused_with_a_reason(pilot, call, message):
    with pytest.raises(PlanningError, match=message):
        call(pilot)


def test_a_pilot_without_error_variance_cannot_plan(pilot):
    flat = dataclasses.replace(pilot, var_reader=0.0, var_error=0.0, cov_error=0.0)
    with pytest.raises(PlanningError, match="more readers or cases"):
        power_given_jk(flat, 5, 100)


# Roe & Metz (1997) parameters with every MRMC variance term present; continuous ratings so
# each AUC is exact. The population AUC of modality i is Phi(mu_i / sqrt(2 * total within-
# class variance)): every reader and case effect enters both classes independently.
ROE_METZ = RoeMetzParameters(
    var_reader=0.03,
    var_case=0.3,
    var_reader_case=0.5,
    var_modality_reader=0.02,
    var_modality_case=0.1,
    var_modality_reader_case=0.05,
)
SEPARATIONS = (1.0, 1.3)
N_PILOTS = 300
N_STUDIES = 800


def _truth(cases: int) -> np.ndarray:
    return np.r_[np.ones(cases // 2), np.zeros(cases - cases // 2)].astype(int)


@pytest.mark.slow
def test_planned_power_matches_the_rejection_rate_of_simulated_studies():
    p = ROE_METZ
    within = (
        p.var_reader
        + p.var_case
        + p.var_reader_case
        + p.var_modality_reader
        + p.var_modality_case
        + p.var_modality_reader_case
    )
    auc = stats.norm.cdf(np.asarray(SEPARATIONS) / np.sqrt(2 * within))
    effect = float(auc[0] - auc[1])  # about -0.061
    # The population's OR components: the mean of the pilots' estimates (5 readers, 100
    # cases), which the planning then extrapolates to other reader and case counts.
    estimates = [
        or_hillis(
            _truth(100), simulate_mrmc(_truth(100), 5, SEPARATIONS, seed=s, parameters=p).ratings
        ).components
        for s in range(10_000, 10_000 + N_PILOTS)
    ]
    mean = OrComponents(
        **{
            name.name: float(np.mean([getattr(e, name.name) for e in estimates]))
            for name in dataclasses.fields(OrComponents)
        }
    )
    population = pilot_from_or_components(mean, n_readers=5, n_cases=100, effect=effect)
    for readers, cases in ((6, 200), (4, 150)):
        planned = power_given_jk(population, readers, cases).power
        truth = _truth(cases)
        rejections = np.mean(
            [
                or_hillis(
                    truth, simulate_mrmc(truth, readers, SEPARATIONS, seed=s, parameters=p).ratings
                ).rrrc.p
                < 0.05
                for s in range(N_STUDIES)
            ]
        )
        # Monte Carlo error of the rejection rate: sqrt(p (1 - p) / 800) <= 0.018; three of
        # them, plus 0.01 for the noise left in the averaged components.
        monte_carlo_se = np.sqrt(planned * (1 - planned) / N_STUDIES)
        assert 0.25 < planned < 0.75  # a design point where power is informative
        assert abs(rejections - planned) < 3 * monte_carlo_se + 0.01, (readers, cases)


def test_without_reader_variability_the_random_reader_power_is_the_fixed_reader_power(pilot):
    # Var(TR) = 0 and Cov2 - Cov3 = Var - Cov1: the F's denominator df are infinite.
    flat = dataclasses.replace(pilot, var_reader=0.0, cov_error=pilot.var_error)
    assert power_given_jk(flat, 5, 100, analysis="rrrc").power == pytest.approx(
        power_given_jk(flat, 5, 100, analysis="frrc").power, abs=1e-12
    )


PANEL = RoeMetzParameters(var_reader=0.04, var_case=0.3, var_reader_case=0.6)
READERS_MU, ALGORITHM_MU, ALGORITHM_NOISE = 1.3, 1.0, 0.6


def _algorithm_study(readers: int, cases: int, seed: int):
    design = simulate_algorithm_and_readers(
        _truth(cases),
        readers,
        reader_separation=READERS_MU,
        algorithm_separation=ALGORITHM_MU,
        seed=seed,
        parameters=PANEL,
        var_algorithm_case=ALGORITHM_NOISE,
    )
    return design.truth, design.ratings[0, 0], design.ratings[0, 1:]


@pytest.mark.slow
def test_planned_power_of_an_algorithm_design_is_near_the_simulated_rejection_rate():
    p = PANEL
    effect = float(
        stats.norm.cdf(READERS_MU / np.sqrt(2 * (p.var_reader + p.var_case + p.var_reader_case)))
        - stats.norm.cdf(ALGORITHM_MU / np.sqrt(2 * (p.var_case + ALGORITHM_NOISE)))
    )  # about 0.056
    pilots = [
        algorithm_pilot(*_algorithm_study(5, 100, s)) for s in range(10_000, 10_000 + N_PILOTS)
    ]
    mean = {
        name: float(np.mean([q.components[name] for q in pilots])) for name in pilots[0].components
    }
    population = dataclasses.replace(
        pilots[0],
        observed_effect=effect,
        components=mean,
        var_reader=max(mean["var_r"], 0.0),
        var_error=mean["var_error"],
        cov_error=mean["cov2"],
    )
    for readers, cases in ((6, 200), (10, 120)):
        planned = power_given_jk(population, readers, cases).power
        rejections = np.mean(
            [
                algorithm_vs_readers(*_algorithm_study(readers, cases, s)).rrrc.p < 0.05
                for s in range(N_STUDIES)
            ]
        )
        # Looser than the two-modality check: the single-treatment test's denominator also
        # carries the sampling noise of the estimated error covariance, which Hillis's df
        # approximation treats as known; over 2000 simulated studies per point the plan was
        # off by up to 0.033 either way (0.314 vs 0.347 here, 0.273 vs 0.242).
        monte_carlo_se = np.sqrt(planned * (1 - planned) / N_STUDIES)
        assert 0.2 < planned < 0.8
        assert abs(rejections - planned) < 3 * monte_carlo_se + 0.04, (readers, cases)


@pytest.mark.parametrize("analysis", ANALYSES)
def test_the_search_finds_the_first_k_a_k_by_k_scan_finds(pilot, analysis):
    # RJafroc's SsSampleSizeKGivenJ tries K = 2, 3, ... in turn; the branch and bound must
    # stop at the same K, or find none where the scan finds none.
    grid = range(2, 3001)
    for readers in (3, 4, 6, 12):
        rows = power_table(pilot, [readers], grid, effect=0.05, analysis=analysis)
        scan = next((row.cases for row in rows if row.power > 0.8), None)
        found = cases_needed(pilot, readers, effect=0.05, analysis=analysis, max_cases=3000)
        assert (None if found is None else found.cases) == scan, readers
