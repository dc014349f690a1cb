"""Number formats for analysis tables: percentages, intervals, AUCs and p-values.

Ranges use an en dash and missing values a dash, as in print. An interval with a negative bound
reads "-0.134 to -0.012" instead, as journals print it: "-0.134" en dash "-0.012"
reads as a subtraction. An interval and a "< 0.001" never break across lines (a table cell would
otherwise split "0.849" and its dash from "0.918"), so they come as a ``nowrap`` span.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()
DASH = "\u2013"


@register.filter
def pct(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.1f}%"


def _unbroken(text: str) -> SafeString:
    return format_html('<span class="nowrap">{}</span>', text)


def _interval(low: float, high: float, digits: int, unit: str = "") -> SafeString:
    first, second = f"{low:.{digits}f}", f"{high:.{digits}f}"
    if first.startswith("-") or second.startswith("-"):
        return _unbroken(f"{first}{unit} to {second}{unit}")
    return _unbroken(f"{first}{DASH}{second}{unit}")


@register.filter
def pct_ci(ci: list | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return DASH
    return _interval(100 * ci[0], 100 * ci[1], 1, "%")


@register.filter
def num3(value: float | None) -> str:
    return DASH if value is None else f"{value:.3f}"


@register.filter
def ci3(ci: list | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return DASH
    return _interval(ci[0], ci[1], 3)


@register.filter
def pvalue(value: float | None) -> str:
    if value is None:
        return DASH
    return _unbroken("< 0.001") if value < 0.001 else f"{value:.3f}"


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
