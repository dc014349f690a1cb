"""Number formats for analysis tables: percentages, intervals, AUCs and p-values.

Ranges use an en dash and missing values a dash, as in print.
"""

from __future__ import annotations

from django import template

register = template.Library()
DASH = "\u2013"


@register.filter
def pct(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.1f}%"


@register.filter
def pct_ci(ci: list | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return DASH
    return f"{100 * ci[0]:.1f}{DASH}{100 * ci[1]:.1f}%"


@register.filter
def num3(value: float | None) -> str:
    return DASH if value is None else f"{value:.3f}"


@register.filter
def ci3(ci: list | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return DASH
    return f"{ci[0]:.3f}{DASH}{ci[1]:.3f}"


@register.filter
def pvalue(value: float | None) -> str:
    if value is None:
        return DASH
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def duration(seconds: float | None) -> str:
    """A wait in words: "40 s", "3 min", "1 h 20 min"."""
    if seconds is None:
        return "n/a"
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
