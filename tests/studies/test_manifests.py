"""The three manifest formats become the same rows; problems name file, row and column."""

from __future__ import annotations

import pytest

from classifier.taxonomy import load_taxonomy
from readerstudy.studies.ingest.issues import IssueCollector
from readerstudy.studies.ingest.manifests import manifest_parse
from readerstudy.studies.ingest.selection import sample_parse


def parse(path, **options):
    issues = IssueCollector(cap=200)
    manifest = manifest_parse(
        path, name=path.name, taxonomy=load_taxonomy(), issues=issues, **options
    )
    return manifest, issues.issues


def test_the_full_ham10000_metadata_parses_with_its_biopsy_counts(ham_full) -> None:
    manifest, issues = parse(ham_full / "HAM10000_metadata.csv")

    assert issues == []
    assert manifest.format == "ham10000" and manifest.rows_read == 10_015
    proven = [row.diagnosis for row in manifest.rows if row.biopsy_proven]
    # data/README.md: histo = mel 1113, nv 2498, bkl 766, bcc 514, akiec 327, vasc 67, df 55
    assert len(proven) == 1113 + 2498 + 766 + 514 + 327 + 67 + 55
    first = manifest.rows[0]
    assert (first.row, first.source_id, first.image_ref) == (2, "ISIC_0024306", "ISIC_0024306")
    assert (first.diagnosis, first.confirmation, first.lesion_id) == (
        "nv",
        "follow_up",
        "HAM_0000550",
    )
    assert (first.age, first.sex, first.site) == (45, "male", "trunk")


def test_the_isic_metadata_maps_names_to_codes_and_histopathology_to_biopsy(isic_demo) -> None:
    manifest, issues = parse(isic_demo / "metadata.csv")

    assert issues == [] and manifest.format == "isic"
    assert {row.diagnosis for row in manifest.rows} == {"mel", "nv"}
    melanoma = next(r for r in manifest.rows if r.diagnosis == "mel")
    assert melanoma.diagnosis_label == "melanoma" and melanoma.biopsy_proven
    assert melanoma.modality == "dermoscopic"
    assert not any(r.biopsy_proven for r in manifest.rows if r.diagnosis == "nv")


def test_a_semicolon_separated_generic_manifest_with_a_bom_is_read(tmp_path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "\ufeffImage;Diagnosis;Biopsy_Proven;Age;Sex\r\n"
        "a.jpg;Seborrheic keratosis;yes;71;F\r\n"
        ";;;;\r\n".encode()
    )
    manifest, issues = parse(path)
    assert issues == []
    (row,) = manifest.rows
    assert (row.source_id, row.diagnosis, row.biopsy_proven, row.sex) == (
        "a",
        "bkl",
        True,
        "female",
    )


def test_a_manifest_that_is_not_utf8_is_refused_with_the_line(tmp_path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("image,diagnosis\na.jpg,nv\nb\xe9.jpg,nv\n".encode("latin-1"))
    manifest, issues = parse(path)
    assert manifest is None
    assert (issues[0].file, issues[0].row) == ("latin.csv", 3)
    assert "UTF-8" in issues[0].message


def test_an_unknown_header_is_refused_naming_the_expected_columns(tmp_path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("file,label\na.jpg,nv\n")
    manifest, issues = parse(path)
    assert manifest is None and issues[0].row == 1
    assert "image_id, dx, dx_type" in issues[0].message


def test_a_manifest_may_not_point_outside_the_upload(tmp_path) -> None:
    path = tmp_path / "sneaky.csv"
    path.write_text("image,diagnosis\n../../etc/passwd,nv\n/etc/hosts,nv\n")
    _, issues = parse(path)
    assert [(i.row, i.field) for i in issues] == [(2, "image"), (3, "image")]


def test_cells_a_spreadsheet_would_run_as_formulas_are_refused_by_row_and_column(tmp_path):
    path = tmp_path / "formulas.csv"
    path.write_text(
        "image,diagnosis,case_id,lesion_id,site,confirmation\n"
        'a.jpg,nv,"=HYPERLINK(""http://x"")",L1,back,histo\n'
        "b.jpg,nv,b,+1+1,back,histo\n"
        "c.jpg,nv,c,L3,-2+3,histo\n"
        "d.jpg,nv,d,L4,back,@SUM(A1)\n"
        "e.jpg,nv,e,L5,-,histo\n"
    )
    manifest, issues = parse(path)
    assert [(i.row, i.field) for i in issues] == [
        (2, "case_id"),
        (3, "lesion_id"),
        (4, "site"),
        (5, "confirmation"),
    ]
    assert all("formula" in i.message for i in issues)
    assert [row.source_id for row in manifest.rows] == ["e"]  # a lone "-" is text


@pytest.mark.parametrize(
    "text, expected",
    [("mel=30,nv=70", {"mel": 30, "nv": 70}), ("melanoma=2, nevus=3", {"mel": 2, "nv": 3})],
)
def test_a_sample_is_read_from_codes_or_names(text, expected) -> None:
    assert sample_parse(text, taxonomy=load_taxonomy()) == expected


@pytest.mark.parametrize("text", ["mel", "mel=0", "mel=x", "wart=3", "mel=1,melanoma=2", ""])
def test_a_malformed_sample_is_refused(text) -> None:
    with pytest.raises(ValueError):
        sample_parse(text, taxonomy=load_taxonomy())
