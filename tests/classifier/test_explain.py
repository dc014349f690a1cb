"""Grad-CAM of the shipped model on real lesions, and the explain command."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from classifier import explain
from classifier.data import Case, load_image
from classifier.predictor import Predictor
from tests.support.lesion_data import needs_data

pytestmark = needs_data


def _melanoma(heldout_cases: list[Case]) -> Case:
    return next(c for c in heldout_cases if c.diagnosis == "mel" and c.box is not None)


def test_grad_cam_is_a_normalised_map_at_the_images_size_that_finds_the_lesion(
    shipped_predictor: Predictor, heldout_cases: list[Case]
) -> None:
    case = _melanoma(heldout_cases)
    image = load_image(case.path)
    cam = explain.grad_cam(shipped_predictor, image, target="melanoma-vs-nevus")
    assert cam.shape == (image.height, image.width)
    assert cam.dtype == np.float32
    assert cam.min() >= 0.0 and cam.max() == pytest.approx(1.0)
    assert cam.std() > 0.01, "a flat map explains nothing"
    # More of the evidence lies on the lesion's box than its share of the image.
    assert case.box is not None
    left, top, right, bottom = (round(v) for v in case.box)
    inside = cam[top:bottom, left:right].sum() / cam.sum()
    share = (right - left) * (bottom - top) / (image.width * image.height)
    assert inside > share


def test_targets_are_classes_or_tasks_and_unknown_ones_are_named(
    shipped_predictor: Predictor, heldout_cases: list[Case]
) -> None:
    image = load_image(_melanoma(heldout_cases).path)
    by_class = explain.grad_cam(shipped_predictor, image, target="bcc")
    by_task = explain.grad_cam(shipped_predictor, image, target="melanoma-vs-nevus")
    assert not np.allclose(by_class, by_task)
    with pytest.raises(ValueError, match=r"unknown target 'lupus'.*akiec, bcc"):
        explain.grad_cam(shipped_predictor, image, target="lupus")


def test_overlay_refuses_a_map_of_another_size(heldout_cases: list[Case]) -> None:
    image = load_image(heldout_cases[0].path)
    with pytest.raises(ValueError, match="map of shape"):
        explain.overlay(image, np.zeros((3, 3), dtype=np.float32))


def test_explain_command_writes_the_overlay_png(heldout_cases: list[Case], tmp_path: Path) -> None:
    case = _melanoma(heldout_cases)
    out = tmp_path / "cam.png"
    assert explain.main([str(case.path), "--out", str(out), "--device", "cpu"]) == 0
    with Image.open(out) as written, Image.open(case.path) as original:
        assert written.format == "PNG"
        assert written.size == original.size
        assert np.asarray(written.convert("RGB")).astype(int).sum() != (
            np.asarray(original.convert("RGB")).astype(int).sum()
        )


def test_grad_cam_mass_lies_mostly_inside_the_lesion_box_for_most_of_a_fixed_set(
    shipped_predictor: Predictor, heldout_cases: list[Case]
) -> None:
    # The first 12 biopsy-proven held-out melanomas, carcinomas and nevi with a lesion box
    # (HAM10000 metadata top/bottom/left/right), each explained for its predicted class.
    chosen = [
        c
        for c in heldout_cases
        if c.diagnosis in ("mel", "bcc", "nv") and c.biopsy_proven and c.box is not None
    ][:12]
    assert len(chosen) == 12
    inside, enrichment = [], []
    for case in chosen:
        image = load_image(case.path)
        cam = explain.grad_cam(shipped_predictor, image)
        assert case.box is not None
        left, top, right, bottom = (round(v) for v in case.box)
        fraction = float(cam[top:bottom, left:right].sum() / cam.sum())
        share = (right - left) * (bottom - top) / (image.width * image.height)
        inside.append(fraction)
        enrichment.append(fraction / share)
    assert sum(f > 0.5 for f in inside) >= 8, [round(f, 2) for f in inside]
    assert float(np.median(enrichment)) > 1.5, [round(e, 2) for e in enrichment]


def test_a_map_of_a_model_that_crops_the_frame_stays_inside_the_frame(
    shipped_predictor: Predictor, heldout_cases: list[Case]
) -> None:
    case = _melanoma(heldout_cases)
    lesion = load_image(case.path)  # 200 x 150
    framed = Image.new("RGB", (240, 150), (0, 0, 0))
    framed.paste(lesion, (40, 0))  # a dark frame band on the left
    cropping = Predictor(
        shipped_predictor.network,
        dataclasses.replace(shipped_predictor.config, preprocess=("crop_border",)),
        device="cpu",
        precision="fp32",
    )
    cam = explain.grad_cam(cropping, framed, target="melanoma-vs-nevus")
    assert cam.shape == (150, 240)
    assert cam[:, :40].max() == 0.0  # nothing on the frame the model never saw
    # The part over the lesion is the map of the lesion alone, put back 40 px to the right.
    alone = explain.grad_cam(shipped_predictor, lesion, target="melanoma-vs-nevus")
    np.testing.assert_allclose(cam[:, 40:], alone, atol=1e-4)
