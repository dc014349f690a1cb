"""A subgroup's line: its average reader and the CNN at it (Brinker et al. 2019's attendings
row), worked by hand on a tiny study."""

from __future__ import annotations

import math

import numpy as np
import pytest

from readerstudy.stats.readers import ReaderInput
from readerstudy.stats.subgroups import subgroup_line

# Cases 0-1 positive (scores 0.9, 0.4), 2-3 negative (0.6, 0.1).
TRUTH = np.array([1, 1, 0, 0])
CNN = np.array([0.9, 0.4, 0.6, 0.1])
ALL = np.arange(4)


def _reader(name: str, decision: list[int], cases: np.ndarray = ALL) -> ReaderInput:
    return ReaderInput(name, cases, np.array(decision, bool), np.array(decision, float))


def test_the_line_is_the_mean_reader_and_the_cnn_read_off_its_curve_there():
    # a: sensitivity 1/2, specificity 1; b: sensitivity 1, specificity 1/2. Means 3/4, 3/4.
    line = subgroup_line(TRUTH, CNN, [_reader("a", [1, 0, 0, 0]), _reader("b", [1, 1, 1, 0])])
    assert line.n_readers == 2
    assert line.sensitivity == pytest.approx(0.75) and line.specificity == pytest.approx(0.75)
    # Sensitivity >= 3/4 needs both positives: threshold 0.4, so the negative at 0.6 is called
    # positive: specificity 1/2.
    assert line.cnn_specificity_at_sensitivity == pytest.approx(0.5)
    # Specificity >= 3/4 needs both negatives below the threshold (> 0.6): only the positive
    # at 0.9 is found: sensitivity 1/2.
    assert line.cnn_sensitivity_at_specificity == pytest.approx(0.5)
    assert line.to_dict()["sensitivity"] == pytest.approx(0.75)


def test_a_reader_without_cases_of_both_classes_has_no_point_and_is_left_out():
    only_positives = _reader("c", [1, 1], cases=np.array([0, 1]))
    line = subgroup_line(TRUTH, CNN, [_reader("a", [1, 0, 0, 0]), only_positives])
    assert line.n_readers == 1
    assert (line.sensitivity, line.specificity) == (0.5, 1.0)


def test_an_empty_subgroup_has_no_line():
    line = subgroup_line(TRUTH, CNN, [])
    assert line.n_readers == 0 and math.isnan(line.sensitivity)
    assert line.to_dict() == {
        "n_readers": 0,
        "sensitivity": None,
        "specificity": None,
        "cnn_specificity_at_sensitivity": None,
        "cnn_sensitivity_at_specificity": None,
    }
