"""The analysis pages' number formats: intervals as journals print them, never split across
lines in a table cell."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from readerstudy.analysis.templatetags.stats_format import ci3, pct_ci, pvalue


@pytest.mark.parametrize(
    ("ci", "expected"),
    [
        ([0.849, 0.918], "0.849\u20130.918"),
        ([-0.134, -0.012], "-0.134 to -0.012"),
        ([-0.040, 0.031], "-0.040 to 0.031"),
        # Rounded to a negative zero, the bound still prints a sign: "to" keeps it readable.
        ([-0.0004, 0.2], "-0.000 to 0.200"),
    ],
)
def test_an_interval_uses_to_where_a_bound_is_negative(ci, expected) -> None:
    assert ci3(ci) == f'<span class="nowrap">{expected}</span>'


def test_a_percentage_interval_carries_its_unit_on_each_bound_when_it_says_to() -> None:
    assert pct_ci([0.644, 0.709]) == '<span class="nowrap">64.4\u201370.9%</span>'
    assert pct_ci([-0.052, 0.031]) == '<span class="nowrap">-5.2% to 3.1%</span>'


def test_missing_bounds_are_a_dash_and_small_p_values_stay_on_one_line() -> None:
    assert ci3(None) == ci3([None, 0.5]) == pct_ci([0.1, None]) == "\u2013"
    assert pvalue(0.0004) == '<span class="nowrap">&lt; 0.001</span>'
    assert pvalue(0.797) == "0.797"
    assert pvalue(None) == "\u2013"


def test_a_template_renders_the_span_as_markup_not_as_escaped_text() -> None:
    html = Template("{% load stats_format %}({{ ci|ci3 }}) p {{ p|pvalue }}").render(
        Context({"ci": [-0.134, -0.012], "p": 0.00001})
    )
    assert html == (
        '(<span class="nowrap">-0.134 to -0.012</span>) p <span class="nowrap">&lt; 0.001</span>'
    )
