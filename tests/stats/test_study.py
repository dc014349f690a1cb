"""The one-call study analysis and its JSON form."""

from __future__ import annotations

import json

import numpy as np
import pytest

from readerstudy.stats.mrmc import algorithm_vs_readers
from readerstudy.stats.readers import ReaderInput, ReaderInputError
from readerstudy.stats.roc import RocInputError, auc_ci
from readerstudy.stats.study import study_analysis

TOP_KEYS = {
    "n_cases", "n_positive", "n_negative", "level", "n_bootstrap", "seed", "cnn", "readers",
    "average_reader", "curve_positions", "brinker", "tschandl", "mrmc_readers", "mrmc",
    "partial_readers", "include_partial", "per_reader_matched", "matched_summary",
    "matched_summary_at_specificity", "readers_rated",
}  # fmt: skip


@pytest.fixture(scope="module")
def small_study():
    rng = np.random.default_rng(7)
    truth = np.array([1] * 20 + [0] * 80)
    cnn = 1 / (1 + np.exp(-(rng.normal(size=100) + 2 * truth - 1)))
    readers = []
    for i in range(5):
        latent = rng.normal(size=100) + 1.5 * truth
        readers.append(ReaderInput(f"derm{i}", np.arange(100), latent > 0.3, np.round(latent)))
    # still grading: 60 cases so far
    readers.append(ReaderInput("late", np.arange(60), rng.random(60) < 0.5, rng.random(60)))
    return truth, cnn, readers


@pytest.fixture(scope="module")
def analysis(small_study):
    truth, cnn, readers = small_study
    return study_analysis(truth, cnn, readers, n_bootstrap=300, seed=1)


def test_to_dict_is_strict_json_with_the_documented_keys(analysis):
    data = analysis.to_dict()
    json.dumps(data, allow_nan=False)
    assert set(data) == TOP_KEYS
    assert data["cnn"]["roc"]["thresholds"][0] is None  # +inf
    assert len(data["readers"]) == 6
    assert set(data["brinker"]) >= {"target", "cnn_value", "cnn_ci", "diff", "diff_ci"}


def test_cnn_auc_is_the_delong_auc_with_a_bootstrap_interval_around_it(small_study, analysis):
    truth, cnn, _ = small_study
    assert analysis.cnn.auc == auc_ci(truth, cnn)
    lo, hi = analysis.cnn.bootstrap.ci
    assert lo < analysis.cnn.auc.auc < hi


def test_mrmc_uses_only_the_readers_who_graded_every_case(small_study, analysis):
    truth, cnn, readers = small_study
    assert analysis.mrmc_readers == tuple(f"derm{i}" for i in range(5))
    want = algorithm_vs_readers(truth, cnn, np.vstack([r.rating for r in readers[:5]]))
    assert analysis.mrmc is not None
    assert analysis.mrmc.rrrc.t == pytest.approx(want.rrrc.t, abs=1e-12)


def test_mrmc_is_none_with_fewer_than_two_complete_readers(small_study):
    truth, cnn, readers = small_study
    result = study_analysis(truth, cnn, readers[4:], n_bootstrap=50)
    assert result.mrmc is None
    assert result.to_dict()["mrmc"] is None
    assert result.mrmc_readers == ("derm4",)


def test_the_same_seed_gives_the_same_analysis(small_study, analysis):
    truth, cnn, readers = small_study
    again = study_analysis(truth, cnn, readers, n_bootstrap=300, seed=1)
    assert again.to_dict() == analysis.to_dict()
    other = study_analysis(truth, cnn, readers, n_bootstrap=300, seed=2)
    assert other.cnn.bootstrap.ci != analysis.cnn.bootstrap.ci


def test_counts_below_on_and_above_add_up_to_the_readers_with_a_point(analysis):
    counts = analysis.curve_positions
    assert counts.below + counts.on + counts.above == 6


def test_no_readers_gives_the_cnn_alone(small_study):
    truth, cnn, _ = small_study
    result = study_analysis(truth, cnn, [], n_bootstrap=50)
    assert result.brinker is None and result.mrmc is None
    assert result.to_dict()["average_reader"]["sensitivity"] is None


def test_one_class_empty_is_a_clear_error(small_study):
    _, cnn, readers = small_study
    with pytest.raises(RocInputError, match="at least one positive and one negative"):
        study_analysis(np.zeros(100, int), cnn, readers)


def test_a_reader_listed_twice_is_an_error(small_study):
    truth, cnn, readers = small_study
    with pytest.raises(ReaderInputError, match="'derm0' appears twice"):
        study_analysis(truth, cnn, [readers[0], readers[0]])


def test_a_partial_reader_is_left_out_of_the_average_and_the_comparisons_by_default(
    small_study, analysis
):
    truth, cnn, readers = small_study
    complete_only = study_analysis(truth, cnn, readers[:5], n_bootstrap=300, seed=1)
    assert analysis.partial_readers == ("late",)
    assert analysis.average_reader == complete_only.average_reader
    assert analysis.average_reader.n_readers == 5
    assert analysis.brinker == complete_only.brinker
    assert analysis.brinker is not None and analysis.brinker.n_readers == 5
    data = analysis.to_dict()
    assert [m["reader"] for m in data["per_reader_matched"]] == [f"derm{i}" for i in range(5)]
    assert data["matched_summary"]["n_readers"] == 5
    assert data["partial_readers"] == ["late"] and data["include_partial"] is False
    # still listed, as partial
    assert [r["reader"] for r in data["readers"] if r["partial"]] == ["late"]


def test_partial_readers_can_be_included_everywhere_but_in_mrmc(small_study, analysis):
    truth, cnn, readers = small_study
    result = study_analysis(truth, cnn, readers, n_bootstrap=300, seed=1, include_partial=True)
    assert result.average_reader.n_readers == 6
    assert result.brinker is not None and result.brinker.n_readers == 6
    assert result.brinker.target != analysis.brinker.target
    data = result.to_dict()
    assert data["matched_summary"]["n_readers"] == 6
    assert data["per_reader_matched"][-1]["reader"] == "late"
    assert data["per_reader_matched"][-1]["n_cases"] == 60
    assert result.mrmc_readers == analysis.mrmc_readers
    assert data["mrmc"] == analysis.to_dict()["mrmc"]


def test_the_matched_summary_is_the_mean_and_range_over_the_readers(analysis):
    data = analysis.to_dict()
    values = [m["cnn_specificity_at_sensitivity"] for m in data["per_reader_matched"]]
    summary = data["matched_summary"]
    assert summary["mean"] == pytest.approx(np.mean(values))
    assert (summary["min"], summary["max"]) == (min(values), max(values))
    outcomes = [m["outcome"] for m in data["per_reader_matched"]]
    assert [summary[k] for k in ("beat", "tied", "lost")] == [
        outcomes.count(k) for k in ("beat", "tied", "lost")
    ]


def test_readers_without_ratings_keep_their_points_but_have_no_auc_and_no_mrmc(
    small_study, analysis
):
    truth, cnn, readers = small_study
    unrated = study_analysis(truth, cnn, readers, n_bootstrap=300, seed=1, readers_rated=False)
    rated, plain = analysis.to_dict(), unrated.to_dict()
    assert (rated["readers_rated"], plain["readers_rated"]) == (True, False)
    assert rated["mrmc"] is not None and plain["mrmc"] is None
    for before, after in zip(rated["readers"], plain["readers"], strict=True):
        assert after["sensitivity"] == before["sensitivity"]
        assert after["specificity"] == before["specificity"]
        assert after["auc"] is None and after["p"] is None
    assert plain["brinker"] == rated["brinker"]
