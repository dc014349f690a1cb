"""Obuchowski-Rockette-Hillis MRMC against the Iowa OR-DBM MRMC 2.51 and MRMCaov outputs on
the Van Dyke data, and the algorithm-vs-readers analysis against its two-modality twin."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from readerstudy.stats.mrmc import algorithm_vs_readers, auc_covariance, or_hillis
from readerstudy.stats.roc import RocInputError, delong
from readerstudy.stats.simulate import RoeMetzParameters, simulate_mrmc

TOL = 1e-9
# The Iowa program prints 8 decimals: agreement within half a unit of the last digit.
PRINTED = 5e-9


@pytest.fixture(scope="module")
def jackknife(vandyke):
    return or_hillis(vandyke.truth, vandyke.ratings, cov="jackknife")


@pytest.fixture(scope="module")
def delong_or(vandyke):
    return or_hillis(vandyke.truth, vandyke.ratings, cov="delong")


def test_van_dyke_design_is_two_modalities_five_readers_114_cases(vandyke):
    assert vandyke.ratings.shape == (2, 5, 114)
    assert (vandyke.truth == 1).sum() == 45


def test_reader_aucs_match_iowa(jackknife):
    iowa = np.array(
        [
            [0.91964573, 0.85877617, 0.90386473, 0.97310789, 0.82979066],
            [0.94782609, 0.90531401, 0.92173913, 0.99935588, 0.92995169],
        ]
    )
    np.testing.assert_allclose(jackknife.auc, iowa, atol=PRINTED, rtol=0)
    assert jackknife.mean_auc == pytest.approx([0.897037037037037, 0.940837359098229], abs=TOL)


def test_random_readers_random_cases_match_iowa(jackknife):
    assert jackknife.rrrc.f == pytest.approx(4.45631869315726, abs=TOL)
    assert jackknife.rrrc.ddf == pytest.approx(15.2596745891418, abs=TOL)
    assert jackknife.rrrc.p == pytest.approx(0.0516656858192941, abs=TOL)
    assert jackknife.rrrc.ci == pytest.approx((-0.0879594985665547, 0.00035885444417133), abs=TOL)
    assert jackknife.rrrc.diff == pytest.approx(-0.04380032, abs=PRINTED)


def test_variance_components_match_iowa(jackknife):
    c = jackknife.components
    assert c.var_r == pytest.approx(0.00153500, abs=PRINTED)
    assert c.var_tr == pytest.approx(0.00020040, abs=PRINTED)
    assert c.cov1 == pytest.approx(0.00034661, abs=PRINTED)
    assert c.cov2 == pytest.approx(0.00034407, abs=PRINTED)
    assert c.cov3 == pytest.approx(0.00023903, abs=PRINTED)
    assert c.var_error == pytest.approx(0.00080229, abs=PRINTED)
    assert jackknife.ms_t == pytest.approx(0.00479617, abs=PRINTED)
    assert jackknife.ms_r == pytest.approx(0.00383620, abs=PRINTED)
    assert jackknife.ms_tr == pytest.approx(0.00055103, abs=PRINTED)


def test_fixed_readers_chi_square_matches_iowa(jackknife):
    assert jackknife.frrc.chi2 == pytest.approx(5.47595324247717, abs=TOL)
    assert jackknife.frrc.p == pytest.approx(0.0192798430707544, abs=TOL)
    assert jackknife.frrc.ci == pytest.approx((-0.08049, -0.00711), abs=5e-6)


def test_fixed_cases_f_test_matches_iowa_at_its_printed_precision(jackknife):
    # Iowa prints F(1,4) = 8.70, p = .0420 and CI (-0.08502, -0.00258).
    assert jackknife.rrfc.f == pytest.approx(8.70, abs=0.005)
    assert (jackknife.rrfc.ndf, jackknife.rrfc.ddf) == (1, 4)
    assert jackknife.rrfc.p == pytest.approx(0.0420, abs=5e-5)
    assert jackknife.rrfc.ci == pytest.approx((-0.08502, -0.00258), abs=5e-6)


def test_single_modality_cis_match_iowa(jackknife):
    first, second = jackknife.modality_ci
    assert first.ci == pytest.approx((0.82522360, 0.96885048), abs=PRINTED)
    assert second.ci == pytest.approx((0.89413783, 0.98753689), abs=PRINTED)
    assert first.se == pytest.approx(0.03317360, abs=PRINTED)


def test_delong_covariances_match_mrmcaov(delong_or):
    assert delong_or.rrrc.f == pytest.approx(4.48485432182078, abs=TOL)
    assert delong_or.rrrc.ddf == pytest.approx(15.0661079388731, abs=TOL)
    assert delong_or.rrrc.p == pytest.approx(0.0512330308248101, abs=TOL)
    c = delong_or.components
    assert c.var_error == pytest.approx(0.0007921325, abs=5e-11)
    assert c.cov1 == pytest.approx(0.0003420090, abs=5e-11)
    assert c.cov2 == pytest.approx(0.0003395265, abs=5e-11)
    assert c.cov3 == pytest.approx(0.0002358497, abs=5e-11)


def test_delong_covariance_method_equals_the_roc_module(vandyke):
    flat = vandyke.ratings.reshape(10, -1)
    np.testing.assert_allclose(
        auc_covariance(vandyke.truth, flat, "delong").covariance,
        delong(vandyke.truth, flat).covariance,
        rtol=0,
        atol=1e-15,
    )


def test_jackknife_covariance_equals_refitting_without_each_case(vandyke):
    flat = vandyke.ratings[:, :2].reshape(4, -1)
    truth = vandyke.truth
    refits = np.array(
        [delong(np.delete(truth, k), np.delete(flat, k, axis=1)).auc for k in range(len(truth))]
    )
    k = len(truth)
    want = np.cov(refits.T, ddof=0) * (k - 1)
    np.testing.assert_allclose(auc_covariance(truth, flat).covariance, want, rtol=1e-10)


def test_unknown_covariance_method_is_an_error(vandyke):
    with pytest.raises(ValueError, match="jackknife"):
        auc_covariance(vandyke.truth, vandyke.ratings[0], "bootstrap")  # type: ignore[arg-type]


def test_or_needs_two_modalities(vandyke):
    with pytest.raises(RocInputError, match="two modalities"):
        or_hillis(vandyke.truth, vandyke.ratings[:1])


@pytest.mark.parametrize("cov", ["jackknife", "delong"])
def test_algorithm_vs_readers_equals_the_two_modality_analysis_with_the_algorithm_copied(
    vandyke, cov
):
    # RJafroc's "2T-RRRC": the algorithm repeated as a second modality gives the same test.
    algorithm = vandyke.ratings[1, 0]
    readers = vandyke.ratings[0]
    single = algorithm_vs_readers(vandyke.truth, algorithm, readers, cov=cov)
    twin = or_hillis(vandyke.truth, np.stack([readers, np.tile(algorithm, (5, 1))]), cov=cov)
    assert single.rrrc.t**2 == pytest.approx(twin.rrrc.f, rel=1e-12)
    assert single.rrrc.df == pytest.approx(twin.rrrc.ddf, rel=1e-12)
    assert single.rrrc.p == pytest.approx(twin.rrrc.p, rel=1e-10)
    assert single.rrrc.ci == pytest.approx(twin.rrrc.ci, rel=1e-10)
    assert single.diff == pytest.approx(single.reader_mean_auc - single.algorithm_auc, abs=TOL)


def test_algorithm_vs_readers_fixed_cases_is_a_one_sample_t_test(vandyke):
    algorithm = vandyke.ratings[1, 0]
    result = algorithm_vs_readers(vandyke.truth, algorithm, vandyke.ratings[0])
    reference = stats.ttest_1samp(result.reader_auc - result.algorithm_auc, 0.0)
    assert result.rrfc.t == pytest.approx(reference.statistic, rel=1e-12)
    assert result.rrfc.p == pytest.approx(reference.pvalue, rel=1e-10)
    assert result.rrfc.df == 4


def test_algorithm_vs_readers_needs_two_readers(vandyke):
    with pytest.raises(RocInputError, match="two readers"):
        algorithm_vs_readers(vandyke.truth, vandyke.ratings[1, 0], vandyke.ratings[0, :1])


def test_var_tr_clips_cov2_minus_cov3_at_zero_as_rjafroc_where_iowa_does_not():
    # A Roe-Metz study with large modality-by-case noise, where the readers' error covariance
    # across modalities (Cov3) exceeds the one within a modality (Cov2).
    truth = np.r_[np.ones(15), np.zeros(15)].astype(int)
    parameters = RoeMetzParameters(
        var_reader=0.05,
        var_case=0.05,
        var_reader_case=0.3,
        var_modality_case=0.3,
        var_modality_reader_case=0.3,
    )
    design = simulate_mrmc(
        truth, 3, [1.0, 1.0], seed=151, parameters=parameters, rating_scale=(1, 5)
    )
    result = or_hillis(design.truth, design.ratings)
    c = result.components
    assert c.cov2 < c.cov3
    # Hillis et al. 2011, eq. 9 (RJafroc 2.1.3): max(Cov2 - Cov3, 0) = 0.
    assert c.var_tr == pytest.approx(result.ms_tr - c.var_error + c.cov1, abs=1e-15)
    iowa_var_tr = result.ms_tr - c.var_error + c.cov1 + c.cov2 - c.cov3
    assert c.var_tr - iowa_var_tr == pytest.approx(c.cov3 - c.cov2, abs=1e-15)
    # Var(R) follows from the clipped Var(TR) (Hillis et al. 2005, Table I), two modalities.
    expected_var_r = (result.ms_r - c.var_tr - c.var_error - c.cov1 + c.cov2 + c.cov3) / 2
    assert c.var_r == pytest.approx(expected_var_r, abs=1e-15)
