"""The switching table of aided reading (Maron et al. 2020) on hand-counted panels."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from readerstudy.stats.bootstrap import case_reader_counts
from readerstudy.stats.switching import SwitchingInputError, switching_analysis

T, F = True, False
# Six cases; the AI is right on cases 1, 4 and 5 (0-based 0, 3, 4).
AI = np.array([T, F, F, T, T, F])
# Per reader: unaided correct, aided correct, changed.
UNAIDED = np.array([[T, T, T, F, F, F], [T, T, T, F, F, T]])
AIDED = np.array([[T, F, T, T, F, F], [T, F, F, T, T, T]])
CHANGED = np.array([[F, T, F, T, F, F], [F, T, T, T, T, F]])


@pytest.fixture(scope="module")
def analysis():
    return switching_analysis(
        UNAIDED, AI, AIDED, CHANGED, readers=["ana", "ben"], n_bootstrap=400, seed=3
    )


def test_each_readers_table_counts_the_readings_by_hand(analysis):
    ana, ben = analysis.per_reader
    assert (ana.reader, ben.reader) == ("ana", "ben")
    # ana: right/AI right 1 kept; right/AI wrong 2 (one switched); wrong/AI right 2 (one
    # switched to right); wrong/AI wrong 1 kept.
    got = [
        (c.reader_correct, c.ai_correct, c.n, c.switched, c.kept, c.aided_correct)
        for c in ana.table.cells
    ]
    assert got == [
        (T, T, 1, 0, 1, 1),
        (T, F, 2, 1, 1, 1),
        (F, T, 2, 1, 1, 1),
        (F, F, 1, 0, 1, 0),
    ]
    assert (ana.table.misled.successes, ana.table.misled.total) == (1, 2)
    assert (ana.table.helped.successes, ana.table.helped.total) == (1, 2)
    # ben: misled on cases 2 and 3 of 3 opportunities (case 6 kept), helped on both.
    assert (ben.table.misled.successes, ben.table.misled.total) == (2, 3)
    assert (ben.table.helped.successes, ben.table.helped.total) == (2, 2)
    assert ben.table.helped.estimate == 1.0


def test_per_reader_rates_carry_wilson_intervals(analysis):
    misled = analysis.per_reader[1].table.misled
    assert misled.estimate == pytest.approx(2 / 3)
    assert misled.ci == pytest.approx(proportion_confint(2, 3, method="wilson"), abs=1e-12)
    # By hand for 1 of 2: centre 0.5, half-width z / (1 + z^2/2) * sqrt(1/8 + z^2/16).
    z = 1.959963984540054
    half = z / (1 + z**2 / 2) * np.sqrt(1 / 8 + z**2 / 16)
    assert analysis.per_reader[0].table.misled.ci == pytest.approx((0.5 - half, 0.5 + half))


def test_pooled_rates_count_all_readings(analysis):
    assert (analysis.misled.events, analysis.misled.opportunities) == (3, 5)
    assert analysis.misled.estimate == pytest.approx(0.6)
    assert (analysis.helped.events, analysis.helped.opportunities) == (3, 4)
    assert analysis.pooled.misled.estimate == pytest.approx(0.6)
    assert sum(c.n for c in analysis.pooled.cells) == 12


def test_the_pooled_interval_is_the_case_and_reader_bootstrap_written_out(analysis):
    case_counts, reader_counts = case_reader_counts(6, 2, 400, 3)
    events = (UNAIDED & ~AI & CHANGED & ~AIDED).astype(float)
    chances = (UNAIDED & ~AI).astype(float)
    rates = []
    for b in range(400):
        num = den = 0.0
        for j in range(2):
            for k in range(6):
                weight = reader_counts[b, j] * case_counts[b, k]
                num += weight * events[j, k]
                den += weight * chances[j, k]
        if den > 0:
            rates.append(num / den)
    want = np.quantile(rates, [0.025, 0.975])
    assert analysis.misled.ci == pytest.approx(tuple(want), abs=1e-12)


def test_the_bootstrap_is_seeded():
    first = switching_analysis(UNAIDED, AI, AIDED, CHANGED, n_bootstrap=200, seed=9)
    again = switching_analysis(UNAIDED, AI, AIDED, CHANGED, n_bootstrap=200, seed=9)
    assert first.misled.ci == again.misled.ci


def test_the_pooled_interval_widens_when_readers_differ_unlike_a_wilson_interval():
    # Reader 1 always follows a wrong AI, reader 2 never: 40 of 80 opportunities.
    unaided = np.ones((2, 40), dtype=bool)
    ai = np.zeros(40, dtype=bool)
    changed = np.array([np.ones(40, dtype=bool), np.zeros(40, dtype=bool)])
    aided = ~changed
    result = switching_analysis(unaided, ai, aided, changed, n_bootstrap=500, seed=1)
    wilson = result.pooled.misled.ci
    assert result.misled.estimate == pytest.approx(0.5)
    assert result.misled.ci[1] - result.misled.ci[0] > 2 * (wilson[1] - wilson[0])


def test_unanswered_readings_are_left_out():
    answered = np.ones_like(UNAIDED)
    answered[1, 1] = False  # ben's first misleading case was never read
    result = switching_analysis(UNAIDED, AI, AIDED, CHANGED, answered=answered, n_bootstrap=50)
    assert (result.misled.events, result.misled.opportunities) == (2, 4)
    assert result.per_reader[1].table.misled.total == 2


def test_only_switches_to_the_ais_answer_count_when_agreement_is_given():
    agrees = np.ones_like(UNAIDED)
    agrees[1, 2] = False  # ben switched on case 3, but to a third wrong class
    result = switching_analysis(
        UNAIDED, AI, AIDED, CHANGED, aided_agrees_with_ai=agrees, n_bootstrap=50
    )
    assert result.per_reader[1].table.misled.successes == 1


def test_a_kept_answer_that_changes_correctness_is_refused():
    aided = AIDED.copy()
    aided[0, 0] = False  # ana kept her right answer on case 1 but is now wrong
    with pytest.raises(SwitchingInputError, match="did not change"):
        switching_analysis(UNAIDED, AI, aided, CHANGED, n_bootstrap=10)


def test_arrays_of_other_shapes_are_refused():
    with pytest.raises(SwitchingInputError, match="aided_correct has shape"):
        switching_analysis(UNAIDED, AI, AIDED[:, :5], CHANGED, n_bootstrap=10)
