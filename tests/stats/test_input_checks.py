"""Every statistic checks its input one way (readerstudy.stats.roc.checked_truth and
checked_scores): the same bad input is refused by each with the same words."""

from __future__ import annotations

import numpy as np
import pytest

from readerstudy.stats.aided_mrmc import jackknife_fom_covariance
from readerstudy.stats.mrmc import auc_covariance
from readerstudy.stats.roc import RocInputError, auc_ci, bootstrap_auc_ci, delong, roc_curve
from readerstudy.stats.study import study_analysis

TRUTH = np.array([1, 0, 1, 0, 1, 0])
SCORES = np.array([0.9, 0.1, 0.8, 0.3, 0.7, 0.2])

CHECKS = {
    "delong": lambda t, s: delong(t, s),
    "auc_ci": lambda t, s: auc_ci(t, s),
    "roc_curve": lambda t, s: roc_curve(t, s),
    "bootstrap_auc_ci": lambda t, s: bootstrap_auc_ci(t, s, n_bootstrap=10),
    "auc_covariance": lambda t, s: auc_covariance(t, np.vstack([s, s])),
    "jackknife_fom_covariance": lambda t, s: jackknife_fom_covariance(
        t, np.vstack([s, s]), "auc", refit=True
    ),
    "study_analysis": lambda t, s: study_analysis(t, s, [], n_bootstrap=10),
}


@pytest.mark.parametrize("method", sorted(CHECKS))
def test_a_missing_score_is_refused_in_the_same_words_by_every_method(method):
    scores = SCORES.copy()
    scores[2] = np.nan
    if method in ("auc_covariance", "jackknife_fom_covariance"):
        with pytest.raises(RocInputError, match="ratings contain NaN or infinite values"):
            CHECKS[method](TRUTH, scores)
        return
    with pytest.raises(RocInputError, match="contain NaN or infinite values"):
        CHECKS[method](TRUTH, scores)


@pytest.mark.parametrize("method", sorted(CHECKS))
def test_scores_for_too_few_cases_are_refused_by_every_method(method):
    with pytest.raises(RocInputError, match="but truth has"):
        CHECKS[method](TRUTH, SCORES[:-1])


@pytest.mark.parametrize("method", sorted(CHECKS))
def test_truth_of_one_class_is_refused_by_every_method(method):
    with pytest.raises(RocInputError, match="at least one positive and one negative"):
        CHECKS[method](np.ones(6, dtype=int), SCORES)
