"""Import and export agree on what a spreadsheet runs as a formula (one definition,
readerstudy.core.spreadsheet): whatever the import lets into a study, an export writes as
it is, and whatever an export would have to escape, the import refuses."""

from __future__ import annotations

import csv

import pytest

from classifier.taxonomy import load_taxonomy
from readerstudy.analysis.exports import spreadsheet_safe
from readerstudy.core.spreadsheet import FORMULA_PREFIXES, LONE_SIGNS
from readerstudy.studies.ingest.issues import IssueCollector
from readerstudy.studies.ingest.manifests import manifest_parse

CELLS = [prefix + 'HYPERLINK("http://evil.example")' for prefix in FORMULA_PREFIXES] + [
    *LONE_SIGNS,
    "back",
    "ISIC_0000001",
]


@pytest.mark.parametrize("cell", CELLS, ids=repr)
def test_the_import_refuses_exactly_the_cells_an_export_escapes(tmp_path, cell) -> None:
    path = tmp_path / "manifest.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "diagnosis", "site"])
        writer.writerow(["a.jpg", "nv", cell])

    collector = IssueCollector(cap=20)
    manifest = manifest_parse(path, name=path.name, taxonomy=load_taxonomy(), issues=collector)
    issues = collector.issues

    escaped = spreadsheet_safe(cell) != cell
    refused = [i for i in issues if i.field == "site"]
    if refused:
        assert escaped, f"the import refuses {cell!r}, which an export writes as it is"
        assert "formula" in refused[0].message
    else:
        # Let in: what is stored (cells are read without surrounding blanks, so a leading tab
        # or carriage return never reaches the study) is written by an export as it is.
        stored = manifest.rows[0].site
        assert spreadsheet_safe(stored) == stored, f"{cell!r} stored as {stored!r}"
        assert escaped == cell.startswith(("\t", "\r")), cell


def test_an_export_escapes_every_formula_prefix_and_passes_numbers() -> None:
    for prefix in FORMULA_PREFIXES:
        assert spreadsheet_safe(prefix + "SUM(A1)") == "'" + prefix + "SUM(A1)"
    assert spreadsheet_safe(-1) == -1
    assert [spreadsheet_safe(sign) for sign in LONE_SIGNS] == list(LONE_SIGNS)
