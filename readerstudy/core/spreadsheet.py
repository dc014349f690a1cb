"""What a spreadsheet runs as a formula (OWASP "CSV injection"), defined once.

The import refuses manifest cells that are formula-like (readerstudy.studies.ingest.manifests)
and the analysts' exports escape them (readerstudy.analysis.exports), so what one lets in is
exactly what the other would have to escape.
"""

from __future__ import annotations

# A spreadsheet evaluates a cell that starts with one of these.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# A sign alone is text to a spreadsheet (a common "no value" mark in manifests).
LONE_SIGNS = ("-", "+")


def formula_like(text: str) -> bool:
    """Whether a spreadsheet would evaluate ``text`` as a formula."""
    return text.startswith(FORMULA_PREFIXES) and text not in LONE_SIGNS


def spreadsheet_safe(value: object) -> object:
    """Prefix formula-like text with an apostrophe (shown as text, as it is); numbers pass."""
    if isinstance(value, str) and formula_like(value):
        return "'" + value
    return value
