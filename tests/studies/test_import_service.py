"""study_import: real image sets in, exact cases out, and nothing at all when a row is bad."""

from __future__ import annotations

import shutil
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from readerstudy.studies.ingest.issues import ImportRejected
from readerstudy.studies.models import Case, ImportJob, Study
from readerstudy.studies.services import ImportOptions, ImportSource, study_import
from tests.support.ingest import ham_subset, read_csv, stored_files, write_csv

pytestmark = pytest.mark.django_db


def run_import(study, images, manifest=None, **options):
    return study_import(
        study=study,
        source=ImportSource(images=images, manifest=manifest),
        options=ImportOptions(**options),
        created_by=study.created_by,
    )


def test_the_isic_demo_set_imports_with_truth_taken_from_the_task(make_study, isic_demo) -> None:
    study = make_study("melanoma-vs-nevus", require_biopsy_proven=False)
    result = run_import(study, isic_demo / "images", isic_demo / "metadata.csv")

    cases = Case.objects.filter(study=study)
    assert cases.count() == 90
    assert Counter(cases.values_list("diagnosis", "truth")) == {
        ("mel", True): 30,
        ("nv", False): 60,
    }
    first = cases.get(source_id="ISIC_0000002")
    assert (first.age, first.sex, first.biopsy_proven) == (60, "female", True)
    assert first.confirmation == "histopathology"
    assert first.source_filename == "ISIC_0000002.jpg"
    assert (first.width, first.height) == (1022, 767)
    assert list(cases.values_list("position", flat=True)) == list(range(90))
    assert result.job.source == ImportJob.Source.CLI and result.job.cases_created == 90
    assert result.report["format"] == "isic"
    assert result.report["imported_truth"] == {"positive": 30, "negative": 60}


def test_the_biopsy_proven_filter_leaves_out_the_isic_nevi_and_lists_them(
    make_study, isic_demo
) -> None:
    study = make_study("melanoma-vs-nevus", require_biopsy_proven=True)
    result = run_import(
        study, isic_demo / "images", isic_demo / "metadata.csv", biopsy_proven_only=True
    )

    assert set(Case.objects.filter(study=study).values_list("diagnosis", flat=True)) == {"mel"}
    assert result.report["imported"] == {"mel": 30}
    assert result.report["excluded_counts"] == {"not biopsy-proven": {"nv": 60}}
    assert len(result.report["excluded"]) == 60
    assert all("not biopsy-proven" in e["reason"] for e in result.report["excluded"])


def test_a_study_that_requires_biopsy_proof_rejects_unproven_rows_without_the_filter(
    make_study, isic_demo
) -> None:
    study = make_study("melanoma-vs-nevus", require_biopsy_proven=True)
    with pytest.raises(ImportRejected) as rejected:
        run_import(study, isic_demo / "images", isic_demo / "metadata.csv")

    biopsy_errors = [i for i in rejected.value.issues if i.field == "diagnosis_confirm_type"]
    assert len(biopsy_errors) == 60
    assert biopsy_errors[0].file == "metadata.csv" and biopsy_errors[0].row == 4
    assert not Case.objects.exists()


def test_the_ham10000_sample_imports_the_task_and_reports_the_diagnoses_outside_it(
    make_study, ham_sample
) -> None:
    study = make_study("carcinoma-vs-keratosis", require_biopsy_proven=False)
    result = run_import(study, ham_sample / "images", ham_sample / "HAM10000_metadata.csv")

    assert result.report["format"] == "ham10000"
    assert result.report["imported"] == {"akiec": 10, "bcc": 10, "bkl": 10}
    assert result.report["imported_truth"] == {"positive": 20, "negative": 10}
    assert result.report["excluded_counts"] == {
        "outside the task": {"df": 10, "mel": 10, "nv": 10, "vasc": 10}
    }
    _, rows = read_csv(ham_sample / "HAM10000_metadata.csv")
    row = next(r for r in rows if r["dx"] == "bkl")
    case = Case.objects.get(study=study, source_id=row["image_id"])
    assert case.lesion_id == row["lesion_id"]
    assert case.confirmation == row["dx_type"]
    assert case.biopsy_proven is (row["dx_type"] == "histo")
    assert (case.age, case.sex, case.site) == (
        int(float(row["age"])),
        row["sex"],
        row["localization"],
    )
    assert (case.width, case.height) == (600, 450)


def test_a_seeded_sample_draws_the_counts_asked_for_with_one_image_per_lesion(
    make_study, ham_full
) -> None:
    options = {"biopsy_proven_only": True, "sample": {"mel": 30, "nv": 70}, "seed": 7}
    images, manifest = ham_full / "images", ham_full / "HAM10000_metadata.csv"
    first = run_import(make_study(name="first"), images, manifest, **options)
    again = run_import(make_study(name="again"), images, manifest, **options)
    other = run_import(make_study(name="other"), images, manifest, **{**options, "seed": 8})

    cases = Case.objects.filter(study=first.study)
    assert Counter(cases.values_list("diagnosis", flat=True)) == {"mel": 30, "nv": 70}
    assert cases.filter(biopsy_proven=True).count() == 100
    lesions = list(cases.values_list("lesion_id", flat=True))
    assert len(set(lesions)) == 100, "two images of one lesion in a sample"
    assert first.report["available"] == {"mel": 1113, "nv": 2498}
    assert first.report["drawn"] == {"mel": 30, "nv": 70}
    assert first.report["seed"] == 7

    def ids(result):
        return set(Case.objects.filter(study=result.study).values_list("source_id", flat=True))

    assert ids(first) == ids(again)
    assert ids(first) != ids(other)


def test_a_limit_caps_the_total_with_a_recorded_seed(make_study, ham_sample) -> None:
    study = make_study("malignant-vs-benign", require_biopsy_proven=False)
    result = run_import(
        study, ham_sample / "images", ham_sample / "HAM10000_metadata.csv", limit=12
    )

    assert study.cases.count() == 12
    assert sum(result.report["available"].values()) == 70
    assert sum(result.report["drawn"].values()) == 12
    assert isinstance(result.report["seed"], int)


def test_a_sample_larger_than_what_is_available_imports_nothing(make_study, ham_sample) -> None:
    study = make_study("melanoma-vs-nevus", require_biopsy_proven=False)
    with pytest.raises(ImportRejected) as rejected:
        run_import(
            study,
            ham_sample / "images",
            ham_sample / "HAM10000_metadata.csv",
            sample={"mel": 11, "nv": 5},
        )
    assert [i.field for i in rejected.value.issues][:1] == ["sample"]
    assert "asked for 11 mel but only 10" in rejected.value.issues[0].message
    assert not study.cases.exists()


def _spoil(kind: str, images, manifest) -> int:
    """Make one row of a good HAM subset bad; returns the row number that is bad."""
    header, rows = read_csv(manifest)
    bad = len(rows) + 1  # the last row, so that earlier images were already stored
    last = rows[-1]
    if kind == "unknown diagnosis":
        last["dx"] = "melanomma"
    elif kind == "unreadable image":
        (images / f"{last['image_id']}.jpg").write_bytes(b"not an image at all")
    elif kind == "duplicate image content":
        shutil.copy(images / f"{rows[0]['image_id']}.jpg", images / f"{last['image_id']}.jpg")
    elif kind == "missing image":
        (images / f"{last['image_id']}.jpg").unlink()
    elif kind == "duplicate id":
        last["image_id"] = rows[0]["image_id"]
    write_csv(manifest, header, [[r[h] for h in header] for r in rows])
    return bad


@pytest.mark.parametrize(
    "kind, field, words",
    [
        ("unknown diagnosis", "dx", "unknown diagnosis 'melanomma'"),
        ("unreadable image", "image_id", "not a JPEG, PNG or TIFF image"),
        ("duplicate image content", "image_id", "same pixels as the image of row 2"),
        ("missing image", "image_id", "missing image"),
        ("duplicate id", "image_id", "row 2 has it too"),
    ],
)
def test_one_bad_row_leaves_the_database_and_the_stored_files_unchanged(
    make_study, ham_sample, tmp_path, kind, field, words
) -> None:
    images, manifest = ham_subset(ham_sample, tmp_path, count=20)
    study = make_study("malignant-vs-benign", require_biopsy_proven=False)
    bad_row = _spoil(kind, images, manifest)
    files_before = stored_files()

    with pytest.raises(ImportRejected) as rejected:
        run_import(study, images, manifest)

    issue = rejected.value.issues[0]
    assert (issue.file, issue.row, issue.field) == ("metadata.csv", bad_row, field)
    assert words in issue.message
    assert Case.objects.count() == 0
    assert ImportJob.objects.count() == 0
    assert stored_files() == files_before


def test_every_error_of_a_manifest_is_reported_with_its_row_and_field(
    make_study, ham_sample, tmp_path
) -> None:
    images, manifest = ham_subset(ham_sample, tmp_path, count=8)
    header, rows = read_csv(manifest)
    rows[1]["dx"] = "mystery"  # row 3
    rows[2]["age"] = "forty"  # row 4
    rows[4]["image_id"] = rows[3]["image_id"]  # row 6 repeats row 5's id
    rows[6]["sex"] = "x"  # row 8
    write_csv(manifest, header, [[r[h] for h in header] for r in rows])

    with pytest.raises(ImportRejected) as rejected:
        run_import(make_study("malignant-vs-benign", require_biopsy_proven=False), images, manifest)

    located = [(i.row, i.field) for i in rejected.value.issues if i.row]
    assert located == [(3, "dx"), (4, "age"), (8, "sex"), (6, "image_id")]


def test_a_missing_column_is_reported_against_the_header(make_study, ham_sample, tmp_path) -> None:
    images, manifest = ham_subset(ham_sample, tmp_path, count=3)
    header, rows = read_csv(manifest)
    keep = [h for h in header if h != "dx_type"]
    write_csv(manifest, keep, [[r[h] for h in keep] for r in rows])

    with pytest.raises(ImportRejected) as rejected:
        run_import(make_study(), images, manifest, manifest_format="ham10000")

    issue = rejected.value.issues[0]
    assert (issue.file, issue.row, issue.field) == ("metadata.csv", 1, "dx_type")
    assert "missing column" in issue.message


def test_a_later_import_appends_and_refuses_cases_already_in_the_study(
    make_study, ham_sample, tmp_path
) -> None:
    study = make_study("malignant-vs-benign", require_biopsy_proven=False)
    _, rows = read_csv(ham_sample / "HAM10000_metadata.csv")
    ids = [r["image_id"] for r in rows]
    first = ham_subset(ham_sample, tmp_path / "a", ids[:5])
    second = ham_subset(ham_sample, tmp_path / "b", ids[5:8])
    run_import(study, *first)
    result = run_import(study, *second)

    assert result.report["positions"] == [5, 7]
    assert list(study.cases.values_list("position", flat=True)) == list(range(8))
    files_before = stored_files()
    with pytest.raises(ImportRejected) as rejected:
        run_import(study, *ham_subset(ham_sample, tmp_path / "c", ids[7:10]))
    messages = [i.message for i in rejected.value.issues]
    assert any("already in the study" in m and ids[7] in m for m in messages)
    assert study.cases.count() == 8
    assert stored_files() == files_before


def test_the_same_pixels_under_another_id_are_refused_in_a_later_import(
    make_study, ham_sample, tmp_path
) -> None:
    study = make_study("malignant-vs-benign", require_biopsy_proven=False)
    images, manifest = ham_subset(ham_sample, tmp_path / "a", count=2)
    run_import(study, images, manifest)
    header, rows = read_csv(manifest)
    original = rows[0]["image_id"]
    renamed = tmp_path / "b"
    renamed.mkdir()
    shutil.copy(images / f"{original}.jpg", renamed / "copy.jpg")
    copy_row = {**rows[0], "image_id": "copy"}
    copy_manifest = write_csv(tmp_path / "copy.csv", header, [[copy_row[h] for h in header]])

    with pytest.raises(ImportRejected) as rejected:
        run_import(study, renamed, copy_manifest)
    message = rejected.value.issues[0].message
    assert f"same pixels as case {original} already in the study" in message


def test_a_closed_study_refuses_imports(make_study, ham_sample, tmp_path) -> None:
    study = make_study("malignant-vs-benign", require_biopsy_proven=False)
    Study.objects.filter(pk=study.pk).update(status=Study.Status.CLOSED)
    study.refresh_from_db()
    with pytest.raises(ImportRejected, match="closed"):
        run_import(study, *ham_subset(ham_sample, tmp_path, count=2))


def test_stored_images_have_generated_names_that_reveal_nothing(make_study, isic_demo) -> None:
    study = make_study("melanoma-vs-nevus", require_biopsy_proven=False)
    run_import(study, isic_demo / "images", isic_demo / "metadata.csv", limit=3, seed=1)

    for case in study.cases.all():
        for field in (case.image, case.display_image, case.thumbnail):
            assert case.source_id not in field.name
            assert field.name.startswith("cases/") and field.name.endswith(".jpg")
        assert case.thumbnail.name != case.image.name  # 1024 px images get a real thumbnail
        assert case.display_image.name == case.image.name  # and need no display copy


def test_a_zip_with_a_generic_manifest_imports_names_and_codes(
    make_study, isic_demo, tmp_path
) -> None:
    _, rows = read_csv(isic_demo / "metadata.csv")
    chosen = [r for r in rows if r["diagnosis"] == "melanoma"][:2] + [
        r for r in rows if r["diagnosis"] == "nevus"
    ][:2]
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        lines = ["image,diagnosis,biopsy_proven,age,sex,site,modality"]
        for n, row in enumerate(chosen):
            name = f"pictures/lesion-{n}.jpg"
            bundle.write(isic_demo / "images" / f"{row['isic_id']}.jpg", name)
            label = "Melanoma" if n < 2 else "nv"
            lines.append(
                f"{name},{label},{'yes' if n < 2 else 'no'},{row['age_approx']},,back,dermoscopic"
            )
        bundle.writestr("manifest.csv", "\n".join(lines) + "\n")
        bundle.writestr("__MACOSX/._manifest.csv", "resource fork")

    study = make_study("melanoma-vs-nevus", require_biopsy_proven=False)
    staging = Path(settings.UPLOAD_ROOT) / "imports"
    staging.mkdir(parents=True, exist_ok=True)
    staging_before = set(staging.iterdir())
    result = run_import(study, archive)
    assert set(staging.iterdir()) == staging_before, "the unpacked zip was left behind"

    assert result.report["format"] == "generic"
    cases = study.cases.order_by("position")
    assert [c.source_id for c in cases] == ["lesion-0", "lesion-1", "lesion-2", "lesion-3"]
    assert [c.truth for c in cases] == [True, True, False, False]
    assert [c.diagnosis_label for c in cases][:1] == ["Melanoma"]
    assert [c.biopsy_proven for c in cases] == [True, True, False, False]


def test_an_image_of_another_modality_is_an_error(make_study, isic_demo) -> None:
    study = make_study("melanoma-vs-nevus", modality="clinical", require_biopsy_proven=False)
    with pytest.raises(ImportRejected) as rejected:
        run_import(study, isic_demo / "images", isic_demo / "metadata.csv")
    issue = rejected.value.issues[0]
    assert issue.field == "image_type" and "dermoscopic image in a clinical study" in issue.message
