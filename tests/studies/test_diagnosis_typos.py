"""A diagnosis typo: named in the manifest's own terms, with a suggestion, in one round."""

from __future__ import annotations

import shutil

import pytest

from classifier.taxonomy import load_taxonomy
from readerstudy.studies.ingest.cells import unknown_diagnosis_message
from readerstudy.studies.ingest.issues import ImportRejected
from readerstudy.studies.models import Case
from tests.support.imports import import_set
from tests.support.ingest import read_csv, stored_files, write_csv

pytestmark = pytest.mark.django_db


def isic_subset(isic_demo, target, count: int = 6):
    header, rows = read_csv(isic_demo / "metadata.csv")
    rows = rows[:count]
    images = target / "images"
    images.mkdir(parents=True)
    for row in rows:
        shutil.copy(isic_demo / "images" / f"{row['isic_id']}.jpg", images)
    return header, rows, images


def test_an_isic_typo_names_isic_diagnoses_suggests_one_and_checks_images_too(
    make_study, isic_demo, tmp_path
) -> None:
    header, rows, images = isic_subset(isic_demo, tmp_path)
    rows[1]["diagnosis"] = "melanom"
    (images / f"{rows[3]['isic_id']}.jpg").write_bytes(b"not an image at all")
    manifest = write_csv(tmp_path / "metadata.csv", header, [[r[h] for h in header] for r in rows])
    study = make_study(require_biopsy_proven=False)
    files_before = stored_files()

    with pytest.raises(ImportRejected) as rejected:
        import_set(study, images, manifest)

    issues = rejected.value.issues
    typo = next(i for i in issues if i.row == 3)
    assert typo.field == "diagnosis"
    assert typo.message.startswith("unknown diagnosis 'melanom': did you mean melanoma?")
    assert "names such as melanoma, nevus" in typo.message
    assert " mel," not in typo.message  # codes are not what an ISIC manifest uses
    # The broken image was checked in the same round, not after the typo is fixed.
    assert any(i.row == 5 and "unreadable image" in i.message for i in issues)
    assert not any("not opened yet" in i.message for i in issues)
    # The typo's own image is named by its row, even though the row was refused.
    assert rejected.value.report["unreferenced_files"] == 0
    assert not Case.objects.exists() and stored_files() == files_before


def test_a_ham10000_typo_suggests_the_code_and_lists_codes() -> None:
    taxonomy = load_taxonomy()
    message = unknown_diagnosis_message("melanomma", taxonomy, "ham10000")
    assert message.startswith("unknown diagnosis 'melanomma': did you mean mel?")
    assert "codes akiec, bcc, bkl, df, mel, nv, scc, vasc" in message
    assert unknown_diagnosis_message("nvv", taxonomy, "ham10000").startswith(
        "unknown diagnosis 'nvv': did you mean nv?"
    )
    generic = unknown_diagnosis_message("dermatofibrom", taxonomy, "generic")
    assert "did you mean dermatofibroma?" in generic and "codes akiec" in generic
    assert "did you mean" not in unknown_diagnosis_message("xyz", taxonomy, "isic")
