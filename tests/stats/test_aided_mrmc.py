"""Unaided against aided reading as two modalities (readerstudy.stats.aided_mrmc): the generic
jackknife path against the Iowa program on the Van Dyke AUCs, and the binary figures of merit
against the numbers the MRMCaov paper prints and a plain numpy jackknife written out here."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from readerstudy.stats.aided_mrmc import aided_mrmc, jackknife_fom_covariance
from readerstudy.stats.mrmc import auc_covariance
from readerstudy.stats.roc import RocInputError

TOL = 1e-9
PRINTED = 5e-9  # the Iowa program's 8 decimals
R_PRINTED = 5e-7  # MRMCaov's printout: 7 significant digits


@pytest.fixture(scope="module")
def auc_analysis(vandyke):
    # Modality 1 read unaided, modality 2 aided: the change is modality 2 minus modality 1.
    return aided_mrmc(vandyke.truth, vandyke.ratings[0], vandyke.ratings[1], metric="auc")


@pytest.fixture(scope="module")
def decisions(vandyke):
    # MRMCaov's vignette: VanDyke$binary_rating <- VanDyke$rating >= 3.
    return (vandyke.ratings >= 3).astype(int)


def test_the_refitting_jackknife_of_the_auc_equals_the_closed_form(vandyke):
    flat = vandyke.ratings.reshape(10, -1)
    generic = jackknife_fom_covariance(vandyke.truth, flat, "auc", refit=True)
    closed = auc_covariance(vandyke.truth, flat, "jackknife")
    np.testing.assert_allclose(generic.value, closed.auc, rtol=0, atol=1e-15)
    np.testing.assert_allclose(generic.covariance, closed.covariance, rtol=1e-10, atol=1e-16)


def test_the_auc_path_reproduces_the_iowa_program_with_the_sign_of_aided_minus_unaided(
    auc_analysis,
):
    result = auc_analysis
    assert result.mean_unaided == pytest.approx(0.897037037037037, abs=TOL)
    assert result.mean_aided == pytest.approx(0.940837359098229, abs=TOL)
    assert result.mean_change == pytest.approx(0.04380032, abs=PRINTED)
    assert result.rrrc.f == pytest.approx(4.45631869315726, abs=TOL)
    assert result.rrrc.ddf == pytest.approx(15.2596745891418, abs=TOL)
    assert result.rrrc.p == pytest.approx(0.0516656858192941, abs=TOL)
    assert result.rrrc.ci == pytest.approx((-0.00035885444417133, 0.0879594985665547), abs=TOL)
    assert result.frrc.chi2 == pytest.approx(5.47595324247717, abs=TOL)
    assert result.rrfc.p == pytest.approx(0.0420, abs=5e-5)
    c = result.components
    assert c.var_r == pytest.approx(0.00153500, abs=PRINTED)
    assert c.var_tr == pytest.approx(0.00020040, abs=PRINTED)
    assert c.cov1 == pytest.approx(0.00034661, abs=PRINTED)
    assert c.cov2 == pytest.approx(0.00034407, abs=PRINTED)
    assert c.cov3 == pytest.approx(0.00023903, abs=PRINTED)
    assert c.var_error == pytest.approx(0.00080229, abs=PRINTED)
    assert result.unaided_ci.ci == pytest.approx((0.82522360, 0.96885048), abs=PRINTED)
    assert result.aided_ci.ci == pytest.approx((0.89413783, 0.98753689), abs=PRINTED)


def test_per_reader_changes_match_mrmcaov_reader_specific_comparisons(auc_analysis):
    # MRMCaov, fixed readers on Van Dyke (docs/jss/MRMCaov.tex): "1 - 2" estimates and
    # standard errors per reader; here the sign is aided (2) minus unaided (1).
    estimates = [-0.02818035, -0.04653784, -0.01787440, -0.02624799, -0.10016103]
    errors = [0.02551213, 0.02630183, 0.03120965, 0.01729129, 0.04405746]
    p_values = [0.26933885, 0.07683102, 0.56683414, 0.12901715, 0.02300099]
    for change, estimate, se, p in zip(
        auc_analysis.reader_changes, estimates, errors, p_values, strict=True
    ):
        assert change.change == pytest.approx(-estimate, abs=5e-9)
        assert change.change == pytest.approx(change.aided - change.unaided, abs=1e-15)
        assert change.se == pytest.approx(se, abs=5e-9)
        assert change.p == pytest.approx(p, abs=5e-9)
    assert [c.reader for c in auc_analysis.reader_changes] == [f"reader{j}" for j in range(1, 6)]


def test_sensitivity_matches_the_mrmcaov_paper_on_van_dyke_at_rating_3(vandyke, decisions):
    # Smith & Hillis, MRMCaov JSS manuscript (docs/jss/MRMCaov.tex), "Binary Metrics":
    # mrmc(binary_sens(truth, binary_rating), treatment, reader, case, data = VanDyke).
    result = aided_mrmc(
        vandyke.truth, decisions[0], decisions[1], metric="sensitivity", readers=vandyke.readers
    )
    np.testing.assert_allclose(
        result.unaided, [0.889, 0.778, 0.822, 0.933, 0.689], rtol=0, atol=5e-4
    )
    np.testing.assert_allclose(result.aided, [0.978, 0.822, 0.911, 1.0, 0.889], atol=5e-4)
    assert result.ms_t == pytest.approx(0.02390123, abs=5e-9)
    assert result.ms_tr == pytest.approx(0.001802469, abs=5e-10)
    c = result.components
    assert c.var_error == pytest.approx(0.0023681257, abs=5e-11)
    assert c.cov1 == pytest.approx(0.0009943883, abs=5e-11)
    assert c.cov2 == pytest.approx(0.0010145903, abs=5e-11)
    assert c.cov3 == pytest.approx(0.0006604938, abs=5e-11)
    assert c.var_r == pytest.approx(0.0049747475, abs=5e-11)
    assert c.var_tr == pytest.approx(0.0007828283, abs=5e-11)
    assert result.rrrc.f == pytest.approx(6.689493, abs=R_PRINTED)
    assert result.rrrc.ddf == pytest.approx(15.71732, abs=5e-6)
    assert result.rrrc.p == pytest.approx(0.02008822, abs=5e-9)
    assert result.rrrc.se == pytest.approx(0.03780451, abs=5e-9)
    assert result.mean_change == pytest.approx(0.09777778, abs=5e-9)
    assert result.rrrc.ci == pytest.approx((0.0175185, 0.1780371), abs=5e-8)
    assert result.unaided_ci.se == pytest.approx(0.05893747, abs=5e-9)
    assert result.unaided_ci.df == pytest.approx(14.456811, abs=5e-7)
    assert result.unaided_ci.ci == pytest.approx((0.6961876, 0.9482568), abs=5e-8)
    assert result.aided_ci.df == pytest.approx(7.575855, abs=5e-7)
    # MRMCaov clips a modality's CI at 1 (0.8328691, 1.0000000).
    assert result.aided_ci.ci == pytest.approx((0.8328691, 1.0), abs=5e-8)
    assert (result.n_positive, result.n_negative) == (45, 69)


def _hand_binary_or(truth, unaided, aided, metric):
    """The OR analysis written out: per-reader proportions, a leave-one-case-out loop over the
    cases of the metric's class, (K-1)/K times the cross-products, then Hillis's F and ddf."""
    cls = 1 if metric == "sensitivity" else 0
    rows = np.vstack([aided, unaided])[:, truth == cls]  # (2 r, K)
    hits = rows if cls == 1 else 1 - rows
    k = hits.shape[1]
    fom = hits.mean(axis=1)
    jack = np.array([np.delete(hits, i, axis=1).mean(axis=1) for i in range(k)])  # (K, 2r)
    cov = (k - 1) / k * (jack - jack.mean(axis=0)).T @ (jack - jack.mean(axis=0))
    r = len(fom) // 2
    theta = fom.reshape(2, r)
    var_e = np.mean(np.diag(cov))
    same_test, cross = [], []
    cov1 = np.mean([cov[j, r + j] for j in range(r)])
    for a in range(2 * r):
        for b in range(2 * r):
            if a % r == b % r:
                continue
            (same_test if a // r == b // r else cross).append(cov[a, b])
    cov2, cov3 = np.mean(same_test), np.mean(cross)
    ms_t = r * np.sum((theta.mean(axis=1) - theta.mean()) ** 2)
    resid = theta - theta.mean(axis=1, keepdims=True) - theta.mean(axis=0) + theta.mean()
    ms_tr = np.sum(resid**2) / (r - 1)
    den = ms_tr + r * max(cov2 - cov3, 0)
    f = ms_t / den
    ddf = den**2 / (ms_tr**2 / (r - 1))
    diff = theta[0].mean() - theta[1].mean()
    half = stats.t.ppf(0.975, ddf) * np.sqrt(2 * den / r)
    return {"f": f, "ddf": ddf, "var_e": var_e, "cov1": cov1, "ci": (diff - half, diff + half)}


@pytest.mark.parametrize("metric", ["sensitivity", "specificity"])
def test_binary_figures_of_merit_equal_a_jackknife_written_out_by_hand(vandyke, decisions, metric):
    result = aided_mrmc(vandyke.truth, decisions[0], decisions[1], metric=metric)
    hand = _hand_binary_or(vandyke.truth, decisions[0], decisions[1], metric)
    assert result.rrrc.f == pytest.approx(hand["f"], rel=1e-12)
    assert result.rrrc.ddf == pytest.approx(hand["ddf"], rel=1e-12)
    assert result.components.var_error == pytest.approx(hand["var_e"], rel=1e-12)
    assert result.components.cov1 == pytest.approx(hand["cov1"], rel=1e-12)
    assert result.rrrc.ci == pytest.approx(hand["ci"], rel=1e-10)


def test_specificity_counts_negatives_called_negative(vandyke, decisions):
    result = aided_mrmc(vandyke.truth, decisions[0], decisions[1], metric="specificity")
    negative = vandyke.truth == 0
    want = (decisions[0][:, negative] == 0).mean(axis=1)
    np.testing.assert_allclose(result.unaided, want, rtol=0, atol=1e-15)


def test_binary_metrics_refuse_ratings_that_are_not_decisions(vandyke):
    with pytest.raises(RocInputError, match="0/1 decisions"):
        aided_mrmc(vandyke.truth, vandyke.ratings[0], vandyke.ratings[1], metric="sensitivity")


def test_an_unknown_figure_of_merit_is_refused(vandyke, decisions):
    with pytest.raises(ValueError, match="metric must be one of"):
        aided_mrmc(vandyke.truth, decisions[0], decisions[1], metric="ppv")  # type: ignore[arg-type]


def test_reader_names_must_match_the_readers(vandyke, decisions):
    with pytest.raises(RocInputError, match="reader names"):
        aided_mrmc(vandyke.truth, decisions[0], decisions[1], readers=["a", "b"])
