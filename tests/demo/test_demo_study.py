"""The demo study on the real HAM10000 images: held out from the shipped CNN's training, one
source, biopsy-proven, and nothing but the lesion predicts the truth (issue 16)."""

from __future__ import annotations

import csv
from collections import Counter
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from PIL import Image

from classifier import DEFAULT_SPLIT
from classifier.data import split_lesion_ids
from readerstudy.analysis.aided import aided_analysis_get
from readerstudy.demo.study import (
    AIDED,
    DEMO_DIAGNOSIS_SAMPLE,
    DEMO_FAULTY_AI_PERCENT,
    DEMO_SAMPLE,
    DEMO_STUDY_NAMES,
    demo_data_locate,
    demo_panel_ensure,
    demo_study_create,
    demo_study_open,
)
from readerstudy.reading.models import ServedCase
from readerstudy.reading.selectors import decision_final_list
from readerstudy.scoring.selectors import study_algorithm_get, study_cnn_probabilities
from readerstudy.scoring.worker import case_chunk_score
from readerstudy.studies.confounds import study_confound_audit
from readerstudy.studies.design import study_design
from readerstudy.studies.models import ConfoundAcknowledgement
from tests.support.env import shared_data

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_the_demo_study_passes_the_confound_audit_and_opens_without_an_acknowledgement(
    coordinator, settings, tmp_path
) -> None:
    settings.VAR_DIR = tmp_path
    data = demo_data_locate(shared_data())
    study = demo_study_create(coordinator=coordinator, data=data)

    cases = list(study.cases.all())
    assert len(cases) == sum(DEMO_SAMPLE.values())
    assert sum(case.truth for case in cases) == DEMO_SAMPLE["mel"]
    assert all(case.biopsy_proven and case.confirmation == "histo" for case in cases)
    # Never a training or model-selection image of the shipped model, one image per lesion.
    heldout = split_lesion_ids(DEFAULT_SPLIT, "test")
    assert all(case.lesion_id in heldout for case in cases)
    assert len({case.lesion_id for case in cases}) == len(cases)
    assert study.import_jobs.count() == 1
    assert {(case.width, case.height, case.source_jpeg_quality) for case in cases} == {
        (200, 150, 75)
    }

    audit = study_confound_audit(study)
    assert audit.warnings == [], audit.warnings
    by_key = {p.key: p for p in audit.properties}
    for key in ("import_batch", "pixel_width", "pixel_area", "file_format", "jpeg_quality"):
        assert by_key[key].auc == 0.5
    assert all(p.auc is not None for p in audit.properties)

    study = demo_study_open(study=study, coordinator=coordinator, acknowledge_confounds=False)
    assert study.status == "open"
    assert not ConfoundAcknowledgement.objects.exists()


def test_a_demo_built_from_data_whose_image_size_gives_the_truth_away_opens_only_acknowledged(
    coordinator, settings, tmp_path
) -> None:
    """Other --data: the held-out melanomas enlarged to 400x300, the nevi left at 200x150."""
    settings.VAR_DIR = tmp_path / "var"
    ham = shared_data("ham10000")
    heldout = split_lesion_ids(DEFAULT_SPLIT, "test")
    with (ham / "HAM10000_metadata.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = [name for name in reader.fieldnames or [] if name]
        rows = [r for r in reader if r["lesion_id"] in heldout and r["dx_type"] == "histo"]
    chosen = [r for r in rows if r["dx"] == "mel"][:10] + [r for r in rows if r["dx"] == "nv"][:10]
    images = tmp_path / "data" / "ham10000" / "images"
    images.mkdir(parents=True)
    with (images.parent / "HAM10000_metadata.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(chosen)
    for row in chosen:
        name = f"{row['image_id']}.jpg"
        with Image.open(ham / "images" / name) as image:
            if row["dx"] == "mel":
                image = image.resize((400, 300), Image.Resampling.LANCZOS)
            image.save(images / name, quality=75)
    data = demo_data_locate(tmp_path / "data")
    study = demo_study_create(coordinator=coordinator, data=data, sample={"mel": 6, "nv": 8})

    with pytest.raises(ValidationError, match="Pixel width"):
        demo_study_open(study=study, coordinator=coordinator, acknowledge_confounds=False)
    study.refresh_from_db()
    assert study.status == "draft"

    study = demo_study_open(study=study, coordinator=coordinator, acknowledge_confounds=True)
    assert study.status == "open"
    recorded = ConfoundAcknowledgement.objects.get(study=study)
    assert recorded.acknowledged_by == coordinator
    assert "pixel_width" in {w["key"] for w in recorded.warnings}


@pytest.mark.parametrize("design", ["diagnosis", "diagnosis_management"])
def test_the_seven_class_demo_has_every_class_and_a_panel_that_names_classes(
    coordinator, settings, tmp_path, design
) -> None:
    settings.VAR_DIR = tmp_path
    study = demo_study_create(
        coordinator=coordinator, data=demo_data_locate(shared_data()), design=design
    )
    scheme = study_design(study).scheme
    cases = list(study.cases.all())
    true_class = {case.pk: scheme.class_of(case.diagnosis) for case in cases}
    assert Counter(true_class.values()) == Counter(DEMO_DIAGNOSIS_SAMPLE)
    assert all(case.biopsy_proven for case in cases)
    study = demo_study_open(study=study, coordinator=coordinator, acknowledge_confounds=True)

    assert demo_panel_ensure(study=study, n_readers=12, coordinator=coordinator) == 12
    rows = list(decision_final_list(study))
    assert len(rows) == 12 * len(cases)
    assert {row["diagnosis_class"] for row in rows} <= set(scheme.codes)
    accuracy = sum(row["diagnosis_class"] == true_class[row["case_id"]] for row in rows) / len(rows)
    # Tschandl et al. 2019's readers: 17.91 of 30 right (0.60).
    assert 0.45 < accuracy < 0.75
    if design == "diagnosis":
        assert {row["biopsy"] for row in rows} == {None}
    else:
        assert {row["biopsy"] for row in rows} == {True, False}
        assert all(row["confidence"] is not None for row in rows)


def test_the_aided_demo_reads_each_case_unaided_then_with_the_cnn_and_exports_both(
    coordinator, settings, tmp_path
) -> None:
    """``demo --design aided``: the melanoma-vs-nevus study read sequentially with a faulty-AI
    check; scored by the shipped CNN (here in this process) before it opens, then a panel
    whose aided answers lean on the CNN's output as shown."""
    settings.VAR_DIR = tmp_path
    study = demo_study_create(
        coordinator=coordinator, data=demo_data_locate(shared_data()), design=AIDED
    )
    assert study.name == DEMO_STUDY_NAMES[AIDED]
    assert (study.design, study.ai_assistance) == ("management", "sequential")
    assert study.faulty_ai_percent == DEMO_FAULTY_AI_PERCENT and study.consent_text
    assert study.ai_show_saliency  # the shipped CNN's Grad-CAM map beside its probability
    model_version = study_algorithm_get(study)
    case_ids = list(study.cases.values_list("pk", flat=True))
    assert case_chunk_score(model_version=model_version, case_ids=case_ids) == len(case_ids)
    study = demo_study_open(study=study, coordinator=coordinator, acknowledge_confounds=True)
    faulty = set(study.cases.filter(ai_output_inverted=True).values_list("pk", flat=True))
    assert len(faulty) == round(len(case_ids) * DEMO_FAULTY_AI_PERCENT / 100)

    assert demo_panel_ensure(study=study, n_readers=8, coordinator=coordinator) == 8
    unaided = list(decision_final_list(study, phase="unaided"))
    aided = list(decision_final_list(study, phase="aided"))
    assert len(unaided) == len(aided) == 8 * len(case_ids)
    served = ServedCase.objects.filter(enrolment__study=study)
    assert served.filter(phase="aided").count() == served.filter(phase="unaided").count()
    # The aided answers moved toward the CNN's output as shown (inverted on faulty cases).
    scores = study_cnn_probabilities(study)
    shown = {pk: (1 - p if pk in faulty else p) >= 0.5 for pk, p in scores.items()}

    def agreement(rows: list[dict]) -> float:
        return sum(row["biopsy"] == shown[row["case_id"]] for row in rows) / len(rows)

    assert agreement(aided) > agreement(unaided) + 0.05
    _, result = aided_analysis_get(study)
    assert result["readers"] == [f"R{n:02d}" for n in range(1, 9)]
    assert result["questions"]["management"]["faulty_switching"]["misled"]["events"] > 0

    out = tmp_path / "ratings.csv"
    call_command("export_report", study.pk, format="ratings", out=out, stdout=StringIO())
    rows = list(csv.DictReader(out.open()))
    assert {row["modality"] for row in rows} == {"unaided", "aided"}
    assert len(rows) == 2 * 8 * len(case_ids)
