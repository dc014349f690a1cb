"""The variant of a model that weighs the patient's age and sex beside the image (issue 22
item 5): the details as read from manifests, the head's arithmetic and its checks in a
checkpoint, its fit and lesion-grouped selection, and the shipped variant on real images."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from classifier import DEFAULT_CHECKPOINT, METADATA_CHECKPOINT
from classifier.checkpoint import CheckpointError, ModelConfig, load_checkpoint, save_checkpoint
from classifier.clinical import FEATURE_SETS, ClinicalInfo, HeadError, MetadataHead, encode
from classifier.data import Case, load_image
from classifier.ensemble import combine
from classifier.evaluate import binary_metrics, task_cases
from classifier.explain import grad_cam
from classifier.metadata import fit_head, lesion_folds, with_head
from classifier.predictor import Predictor
from classifier.taxonomy import Taxonomy
from tests.support.lesion_data import needs_data

CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
AGE_SEX = FEATURE_SETS["age,sex"]


def head(**changes: object) -> MetadataHead:
    """A head that leaves the image's probabilities as they are, but for ``changes``."""
    plain = MetadataHead(
        features=AGE_SEX,
        weights=tuple(tuple(0.0 for _ in CLASSES) for _ in AGE_SEX),
        bias=tuple(0.0 for _ in CLASSES),
        evidence=1.0,
    )
    return dataclasses.replace(plain, **changes)  # type: ignore[arg-type]


def test_the_details_are_read_as_manifests_write_them():
    assert ClinicalInfo.of("45.0", "Male", " Lower Extremity ") == ClinicalInfo(
        45.0, "male", "lower extremity"
    )
    for unknown in ("", "nan", "abc", None, "-3", "200"):
        assert ClinicalInfo.of(unknown, "", "").age is None, unknown
    assert ClinicalInfo.of(None, None, None) == ClinicalInfo()


def test_the_features_of_known_and_unknown_details():
    rows = encode(AGE_SEX, [ClinicalInfo(70, "male"), ClinicalInfo(None, "unknown")])
    assert rows.tolist() == [[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
    site = encode(FEATURE_SETS["age,sex,site"], [ClinicalInfo(30, "female", "back")])
    names = FEATURE_SETS["age,sex,site"]
    assert site[0, names.index("site=back")] == 1.0 and site[0].sum() == pytest.approx(
        (30 - 50) / 20 + 2
    )


def test_a_head_without_weights_returns_the_image_s_probabilities():
    fine = np.array([[0.1, 0.1, 0.1, 0.1, 0.3, 0.2, 0.1], [0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.0]])
    moved = head().apply(fine, [ClinicalInfo(80, "male"), ClinicalInfo()])
    assert moved[0] == pytest.approx(fine[0])
    assert moved[1] == pytest.approx(fine[1], abs=1e-6)


def test_an_older_patient_moves_probability_to_the_class_that_age_favours():
    weights = [[0.0] * len(CLASSES) for _ in AGE_SEX]
    weights[AGE_SEX.index("age")][CLASSES.index("mel")] = 1.0
    aged = head(weights=tuple(tuple(row) for row in weights))
    fine = np.full((3, len(CLASSES)), 1 / len(CLASSES))
    p = aged.apply(fine, [ClinicalInfo(30), ClinicalInfo(50), ClinicalInfo(70)])
    mel = p[:, CLASSES.index("mel")]
    assert mel[0] < mel[1] < mel[2]
    assert mel[1] == pytest.approx(1 / len(CLASSES))
    assert p.sum(axis=1) == pytest.approx(1.0)
    # log-odds of mel against any other class move by exactly the weight per 20 years
    odds = np.log(mel / p[:, CLASSES.index("nv")])
    assert np.diff(odds) == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError, match="2 patients' details for 3 images"):
        aged.apply(fine, [ClinicalInfo(), ClinicalInfo()])


def test_a_head_in_a_file_is_checked_against_the_model():
    good = head().to_dict()
    assert MetadataHead.from_dict(good, len(CLASSES)) == head()
    with pytest.raises(HeadError, match="unknown features"):
        MetadataHead.from_dict({**good, "features": ["age", "smoker", "sex=male", "sex=female"]}, 7)
    with pytest.raises(HeadError, match="not 4 x 8"):
        MetadataHead.from_dict(good, 8)
    with pytest.raises(HeadError, match="not finite"):
        MetadataHead.from_dict({**good, "evidence": math.inf}, 7)
    with pytest.raises(HeadError, match="invalid metadata head"):
        MetadataHead.from_dict({"features": []}, 7)


def test_the_fit_finds_an_effect_of_age_that_the_image_does_not_show():
    """Images whose probabilities say nothing, patients whose age decides the class: the
    fitted head puts the weight on age, with the right sign, and classifies by it."""
    rng = np.random.default_rng(0)
    n = 600
    ages = rng.uniform(20, 80, n)
    labels = np.where(ages > 50, CLASSES.index("mel"), CLASSES.index("nv"))
    fine = np.full((n, len(CLASSES)), 1 / len(CLASSES))
    infos = [ClinicalInfo(age, "male" if i % 2 else "female") for i, age in enumerate(ages)]
    fitted = fit_head(fine, labels, infos, AGE_SEX, penalty=1e-3)
    age_row = np.asarray(fitted.weights)[AGE_SEX.index("age")]
    assert age_row[CLASSES.index("mel")] - age_row[CLASSES.index("nv")] > 2.0
    p = fitted.apply(fine, infos)
    accuracy = np.mean(np.argmax(p, axis=1) == labels)
    assert accuracy > 0.9


def test_cross_validation_folds_keep_a_lesion_s_images_together():
    cases = [
        Case(f"img{i}", f"lesion{i // 3}", "nv", True, path=None)  # type: ignore[arg-type]
        for i in range(40)
    ]
    folds = lesion_folds(cases, 5)
    assert sorted(np.concatenate(folds).tolist()) == list(range(40))
    for fold in folds:
        lesions = {cases[i].lesion_id for i in fold}
        assert all(cases[i].lesion_id in lesions for i in fold)
        outside = set(range(40)) - set(fold.tolist())
        assert not lesions & {cases[i].lesion_id for i in outside}


@pytest.fixture(scope="module")
def image_model():
    return load_checkpoint(DEFAULT_CHECKPOINT)


def test_a_head_travels_in_the_checkpoint_and_an_old_file_has_none(image_model, tmp_path):
    assert image_model.config.metadata is None
    assert "metadata" not in {k for k, v in image_model.config.to_dict().items() if v}
    stored = with_head(image_model, head(evidence=1.25))
    save_checkpoint(stored, tmp_path / "m.pt", half=True)
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert loaded.config.metadata == head(evidence=1.25)
    with pytest.raises(CheckpointError, match="already reads"):
        with_head(loaded, head())
    broken = dict(image_model.config.to_dict(), metadata={**head().to_dict(), "bias": [0.0]})
    with pytest.raises(CheckpointError, match="1 biases for 7 classes"):
        ModelConfig.from_dict(broken)


def test_an_ensemble_of_a_model_that_weighs_the_details_is_refused(image_model):
    with pytest.raises(CheckpointError, match="fit the details on the ensemble"):
        combine([image_model, with_head(image_model, head())], ["a.pt", "b.pt"])


@needs_data
def test_the_shipped_variant_weighs_the_details_on_top_of_the_image_model(
    shipped_predictor: Predictor, heldout_cases: list[Case]
):
    variant = Predictor.from_checkpoint(METADATA_CHECKPOINT, device="cpu", precision="fp32")
    assert variant.uses_metadata and not shipped_predictor.uses_metadata
    assert variant.config.metadata is not None
    cases = heldout_cases[:6]
    images = [load_image(c.path) for c in cases]
    with pytest.raises(ValueError, match="age and sex"):
        variant.predict_images(images)
    infos = [c.clinical for c in cases]
    assert any(info.age is not None for info in infos)
    fused = variant.predict_images(images, metadata=infos).fine
    plain = shipped_predictor.predict_images(images, metadata=infos).fine  # ignored there
    assert fused == pytest.approx(variant.config.metadata.apply(plain, infos), abs=1e-5)
    older = variant.predict_images(images[:1], metadata=[ClinicalInfo(85, "male")]).fine
    younger = variant.predict_images(images[:1], metadata=[ClinicalInfo(20, "female")]).fine
    assert not np.allclose(older, younger)
    # Grad-CAM answers for the model with the patient's details: its top class is the one the
    # variant answers.
    cam = grad_cam(variant, images[0], None, metadata=infos[0])
    assert cam.shape == (images[0].height, images[0].width) and cam.max() == pytest.approx(1.0)


@needs_data
def test_the_shipped_variant_s_held_out_auc_matches_its_card(
    heldout_cases: list[Case], taxonomy: Taxonomy
):
    """The card reports the variant separately; the floors sit just under its figures."""
    variant = Predictor.from_checkpoint(METADATA_CHECKPOINT, device="cpu", precision="fp32")
    recorded = load_checkpoint(METADATA_CHECKPOINT).metrics["test"]
    for name, floor in {"melanoma-vs-nevus": 0.82, "carcinoma-vs-keratosis": 0.86}.items():
        task = taxonomy.task(name)
        cases = task_cases(heldout_cases, task, biopsy_proven_only=True)
        fine = variant.predict_images(
            [load_image(c.path) for c in cases], metadata=[c.clinical for c in cases]
        ).fine
        truth = np.array([task.truth(c.diagnosis) for c in cases])
        measured = binary_metrics(truth, taxonomy.task_probability(fine, task))
        assert measured["auc"] >= floor, f"{name}: {measured['auc']:.4f}"
        assert measured["auc"] == pytest.approx(recorded[name]["auc"], abs=0.005)
