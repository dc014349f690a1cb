"""Brinker's per-reader comparison: the CNN at each reader's own operating point."""

from __future__ import annotations

import numpy as np
import pytest

from readerstudy.stats.matched import outcome, per_reader_comparison, reader_match
from readerstudy.stats.operating_points import (
    sensitivity_at_specificity,
    specificity_at_sensitivity,
)
from readerstudy.stats.readers import ReaderInput

# Cases 0-3 positive, 4-8 negative. Worked by hand on the CNN's empirical curve:
# positives score 0.9 0.8 0.6 0.3, negatives 0.7 0.5 0.4 0.2 0.1.
TRUTH = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0])
CNN = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.5, 0.4, 0.2, 0.1])
ALL = np.arange(9)


def _reader(name: str, decision: list[int], cases: np.ndarray = ALL) -> ReaderInput:
    return ReaderInput(name, cases, np.array(decision, bool), np.array(decision, float))


# a: sensitivity 3/4, specificity 3/5. At sensitivity 3/4 the CNN's threshold is 0.6 (its
#    third-highest positive); one negative (0.7) lies above: specificity 4/5 > 3/5, beat.
#    At specificity 3/5 two false positives are allowed: call scores above the third-highest
#    negative (0.4): positives 0.9 0.8 0.6, sensitivity 3/4 = the reader's, tied.
READER_A = _reader("a", [1, 1, 1, 0, 1, 1, 0, 0, 0])
# b: sensitivity 1, specificity 2/5. Threshold 0.3: negatives 0.7 0.5 0.4 called, specificity
#    2/5, tied. Three false positives allowed: above 0.2, every positive: 1, tied.
READER_B = _reader("b", [1, 1, 1, 1, 1, 1, 1, 0, 0])
# c: sensitivity 3/4, specificity 1. CNN specificity 4/5 < 1, lost. No false positive
#    allowed: above 0.7, positives 0.9 0.8: 2/4 < 3/4, lost.
READER_C = _reader("c", [1, 1, 1, 0, 0, 0, 0, 0, 0])


def test_the_cnn_is_read_off_its_curve_at_each_readers_own_rates():
    a = reader_match(TRUTH, CNN, READER_A)
    assert a is not None
    assert (a.sensitivity, a.specificity) == (0.75, 0.6)
    assert a.cnn_specificity_at_sensitivity == pytest.approx(0.8)
    assert a.cnn_sensitivity_at_specificity == pytest.approx(0.75)
    assert (a.outcome, a.outcome_at_specificity) == ("beat", "tied")


def test_the_cnn_beat_one_tied_one_and_lost_to_one_reader():
    result = per_reader_comparison(TRUTH, CNN, [READER_A, READER_B, READER_C])
    assert [m.outcome for m in result.readers] == ["beat", "tied", "lost"]
    assert [m.outcome_at_specificity for m in result.readers] == ["tied", "tied", "lost"]
    summary = result.at_sensitivity
    assert summary.matched == "sensitivity" and summary.n_readers == 3
    assert summary.mean == pytest.approx((0.8 + 0.4 + 0.8) / 3)
    assert (summary.min, summary.max) == pytest.approx((0.4, 0.8))
    assert summary.reader_mean == pytest.approx((0.6 + 0.4 + 1.0) / 3)
    assert (summary.beat, summary.tied, summary.lost) == (1, 1, 1)
    other = result.at_specificity
    assert other.mean == pytest.approx((0.75 + 1.0 + 0.5) / 3)
    assert (other.beat, other.tied, other.lost) == (0, 2, 1)


def test_a_partial_reader_is_matched_on_the_cases_they_read():
    # d read positives 0.6 and 0.3 and negatives 0.7 and 0.2; sensitivity 1/2 on those cases
    # puts the CNN's threshold at 0.6, above which lies the negative 0.7: specificity 1/2. On
    # every case the same sensitivity would give 1.0, so this checks the cases used.
    d = reader_match(TRUTH, CNN, _reader("d", [1, 0, 1, 0], np.array([2, 3, 4, 7])))
    assert d is not None and d.n_cases == 4
    assert d.cnn_specificity_at_sensitivity == pytest.approx(0.5)
    assert specificity_at_sensitivity(TRUTH, CNN, 0.5)[0] == pytest.approx(1.0)
    assert d.outcome == "tied"


def test_a_reader_without_cases_of_both_classes_has_no_match():
    positives_only = _reader("e", [1, 1], np.array([0, 1]))
    assert reader_match(TRUTH, CNN, positives_only) is None
    result = per_reader_comparison(TRUTH, CNN, [positives_only])
    assert result.readers == () and result.at_sensitivity.n_readers == 0
    assert np.isnan(result.at_sensitivity.mean)


def test_outcomes_compare_with_round_off_only():
    assert outcome(0.8, 0.6) == "beat"
    assert outcome(0.3 + 0.1 + 0.2, 0.6) == "tied"  # 0.6000000000000001
    assert outcome(0.59, 0.6) == "lost"


def test_random_readers_agree_with_the_operating_point_functions():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 80)
    cnn = np.round(rng.normal(size=80) + truth, 1)
    readers = [
        ReaderInput(f"r{i}", np.arange(80), rng.random(80) < 0.4 + 0.4 * truth, rng.random(80))
        for i in range(5)
    ]
    result = per_reader_comparison(truth, cnn, readers)
    for reader, match in zip(readers, result.readers, strict=True):
        positive = truth.astype(bool)
        sensitivity = reader.decision[positive].mean()
        specificity = (~reader.decision[~positive]).mean()
        spec, _ = specificity_at_sensitivity(truth, cnn, sensitivity)
        sens, _ = sensitivity_at_specificity(truth, cnn, specificity)
        assert match.cnn_specificity_at_sensitivity == spec
        assert match.cnn_sensitivity_at_specificity == sens
        assert match.outcome == outcome(spec, specificity)
    assert result.at_sensitivity.beat + result.at_sensitivity.tied + result.at_sensitivity.lost == 5
