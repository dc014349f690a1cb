"""One definition of "biopsy-proven": the study manifest parser and the classifier's data reader
call the same confirmations biopsy-proven, in every format they share, edge cases included."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.data import read_manifest
from classifier.taxonomy import BIOPSY_CONFIRMATIONS, is_biopsy_proven, load_taxonomy
from readerstudy.studies.ingest.issues import IssueCollector
from readerstudy.studies.ingest.manifests import GENERIC_COLUMNS, manifest_parse

# HAM10000's dx_type codes, the ISIC Archive's diagnosis_confirm_type phrases, other spellings,
# case and spacing variants, and near misses that must not count.
CONFIRMATIONS = sorted(
    {
        *BIOPSY_CONFIRMATIONS,
        *(value.upper() for value in BIOPSY_CONFIRMATIONS),
        *(value.title() for value in BIOPSY_CONFIRMATIONS),
        " histo ",
        "follow_up",
        "consensus",
        "confocal",
        "single image expert consensus",
        "serial imaging showing no change",
        "confocal microscopy with consensus dermoscopy",
        "histopathological",
        "histo pathology",
        "biopsied",
        "not histo",
        "nan",
        "",
    }
)

# (format, id column, diagnosis column, confirmation column)
FORMATS = [
    ("ham10000", "image_id", "dx", "dx_type"),
    ("isic", "isic_id", "diagnosis", "diagnosis_confirm_type"),
]


def test_the_rule_itself() -> None:
    assert is_biopsy_proven("histo") and is_biopsy_proven("Histopathology")
    assert is_biopsy_proven(" biopsy ") and is_biopsy_proven("HISTOLOGY")
    assert not is_biopsy_proven("follow_up") and not is_biopsy_proven("consensus")
    assert not is_biopsy_proven("") and not is_biopsy_proven("histopathological")


def test_the_upload_page_names_every_confirmation_that_counts() -> None:
    help_text = GENERIC_COLUMNS["confirmation"]
    assert all(value in help_text for value in BIOPSY_CONFIRMATIONS), help_text


@pytest.mark.parametrize(("manifest_format", "id_column", "dx_column", "column"), FORMATS)
def test_the_manifest_parser_and_the_classifier_agree_on_every_confirmation(
    tmp_path: Path, manifest_format: str, id_column: str, dx_column: str, column: str
) -> None:
    path = tmp_path / "manifest.csv"
    lines = [f"{id_column},{dx_column},{column}"]
    lines += [f'case_{n},nv,"{value}"' for n, value in enumerate(CONFIRMATIONS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    taxonomy = load_taxonomy()

    issues = IssueCollector(cap=200)
    manifest = manifest_parse(
        path, name=path.name, taxonomy=taxonomy, issues=issues, manifest_format=manifest_format
    )
    assert manifest is not None and issues.issues == []
    study_side = {row.source_id: row.biopsy_proven for row in manifest.rows}
    classifier_side = {
        case.image_id: case.biopsy_proven
        for case in read_manifest(path, tmp_path, manifest_format, taxonomy)
    }

    expected = {f"case_{n}": is_biopsy_proven(value) for n, value in enumerate(CONFIRMATIONS)}
    assert study_side == classifier_side == expected
    assert sum(expected.values()) == 3 * len(BIOPSY_CONFIRMATIONS) + 1  # " histo " too
