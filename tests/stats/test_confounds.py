"""The confound audit's statistics: each property's AUC alone, against scikit-learn, and the
documented warning rule."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from readerstudy.stats.confounds import (
    CNN_BY_SOURCE,
    WARNING_AUC,
    ConfoundAudit,
    categorical_property_audit,
    cnn_by_source_audit,
    numeric_property_audit,
)


def test_a_numeric_property_scores_its_auc_turned_round_to_at_least_one_half() -> None:
    rng = np.random.default_rng(3)
    truth = rng.random(120) < 0.4
    values = rng.normal(size=120) - 0.8 * truth  # lower in positives
    audit = numeric_property_audit("x", "X", truth.tolist(), values.tolist())
    assert audit.auc == pytest.approx(1 - roc_auc_score(truth, values))
    assert audit.higher_in == "negatives"
    assert audit.ci is not None and audit.ci[0] < audit.auc < audit.ci[1]


def test_the_old_demo_mix_warns_on_pixel_size_and_source() -> None:
    # Issue 16: 30 sharp 1024-px melanomas from one archive, 50 melanomas and 120 nevi at
    # 200 px from another.
    truth = [True] * 80 + [False] * 120
    width = [1024] * 30 + [200] * 170
    size = numeric_property_audit("pixel_width", "Pixel width", truth, width)
    source = categorical_property_audit(
        "import_batch", "Import batch", truth, ["isic"] * 30 + ["ham"] * 170
    )
    for audit in (size, source):
        assert audit.auc == pytest.approx(0.5 + 0.5 * 30 / 80)
        assert audit.auc >= WARNING_AUC and audit.warning
    assert source.higher_in == "isic"
    assert [w["key"] for w in ConfoundAudit([size, source]).warnings] == [
        "pixel_width",
        "import_batch",
    ]


def test_a_property_that_is_the_same_for_every_case_says_nothing() -> None:
    truth = [True, False] * 20
    audit = numeric_property_audit("pixel_width", "Pixel width", truth, [200] * 40)
    assert audit.auc == 0.5 and not audit.warning
    assert audit.higher_in == ""  # neither class: it printed "positives"


def test_a_perfect_cue_on_too_few_cases_to_exclude_chance_does_not_warn() -> None:
    # 2 melanomas and 3 nevi separate by chance one time in ten (exact Mann-Whitney p = 0.2),
    # where DeLong's interval would collapse to [1, 1].
    audit = numeric_property_audit("g", "G", [True, True, False, False, False], [9, 8, 3, 2, 1])
    assert audit.auc == 1.0 and audit.ci == (1.0, 1.0)
    assert audit.p_value == pytest.approx(0.2)
    assert not audit.warning
    larger = numeric_property_audit("g", "G", [True] * 6 + [False] * 6, list(range(12, 0, -1)))
    assert larger.p_value is not None and larger.p_value < 0.05 and larger.warning


def test_cases_without_the_property_recorded_are_counted_and_left_out() -> None:
    truth = [True, False, True, False, True]
    audit = numeric_property_audit("q", "Q", truth, [90, 75, None, None, 90])
    assert (audit.n_cases, audit.n_missing) == (3, 2)
    assert audit.auc == pytest.approx(1.0)
    lacking = numeric_property_audit("q", "Q", truth, [90, None, None, None, 90])
    assert lacking.auc is None and not lacking.warning


def test_a_cnn_good_on_one_source_and_at_chance_on_the_other_warns() -> None:
    rng = np.random.default_rng(5)
    truth = np.tile([True, False], 100)
    noise = rng.random(200)
    separating = np.where(truth, 0.6 + 0.4 * noise, 0.4 * noise)
    scores = np.where(np.arange(200) < 100, separating, noise)
    sources = ["a"] * 100 + ["b"] * 100
    audits, disjoint = cnn_by_source_audit(truth.tolist(), scores.tolist(), sources)
    assert [a.source for a in audits] == ["a", "b"]
    assert audits[0].auc == pytest.approx(1.0)
    assert audits[1].auc == pytest.approx(roc_auc_score(truth[100:], noise[100:]))
    assert disjoint
    warned = ConfoundAudit([], audits, disjoint).warnings
    assert [w["key"] for w in warned] == [CNN_BY_SOURCE]
    _, alike = cnn_by_source_audit(truth.tolist(), separating.tolist(), sources)
    assert not alike


def test_unscored_cases_leave_the_cnn_by_source_uncomputed_without_a_warning() -> None:
    audits, disjoint = cnn_by_source_audit([True, False], [None, None], ["a", "a"])
    assert audits[0].auc is None and not disjoint
