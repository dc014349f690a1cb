"""Preprocessing shared by training and scoring: the dermatoscope frame's crop and Shades of
Gray colour constancy."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from classifier.imaging import (
    border_box,
    check_preprocess,
    crop_border,
    preprocess,
    shades_of_gray,
)


def skin(width: int = 200, height: int = 150) -> Image.Image:
    """Skin-coloured noise with a darker lesion in the middle."""
    rng = np.random.default_rng(0)
    pixels = rng.normal((200, 150, 130), 12, size=(height, width, 3))
    pixels[height // 3 : 2 * height // 3, width // 3 : 2 * width // 3] *= 0.35
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def framed() -> Image.Image:
    image = np.asarray(skin()).copy()
    image[:10], image[:, :15], image[:, -6:] = 4, 8, 0  # a dermatoscope's dark bands
    return Image.fromarray(image)


def test_the_frames_dark_bands_are_cut_off() -> None:
    assert border_box(framed()) == (15, 10, 194, 150)
    assert crop_border(framed()).size == (179, 140)


def test_an_image_without_a_frame_and_its_dark_lesion_stay_whole() -> None:
    image = skin()
    assert border_box(image) == (0, 0, 200, 150)
    assert crop_border(image) is image


def test_a_dark_image_loses_at_most_a_quarter_per_side() -> None:
    dark = Image.new("RGB", (200, 100), (10, 10, 10))
    assert border_box(dark) == (50, 25, 150, 75)


def test_shades_of_gray_removes_a_colour_cast() -> None:
    image = skin()
    cast = Image.fromarray(
        np.clip(np.asarray(image, dtype=np.float32) * (0.75, 0.9, 1.15), 0, 255).astype(np.uint8)
    )
    corrected, original = shades_of_gray(cast), shades_of_gray(image)
    # The same scene under two illuminants comes out in the same colours: the two differ by one
    # brightness factor for all three channels (the method keeps the illuminant's norm, not
    # its brightness), up to rounding.
    ratio = np.asarray(corrected, float).mean(axis=(0, 1)) / np.asarray(original, float).mean(
        axis=(0, 1)
    )
    assert ratio.max() - ratio.min() < 0.01
    uncorrected = np.asarray(cast, float).mean(axis=(0, 1)) / np.asarray(image, float).mean(
        axis=(0, 1)
    )
    assert uncorrected.max() - uncorrected.min() > 0.3
    # And its p-norm illuminant estimate is grey.
    pixels = np.asarray(corrected, dtype=np.float64) / 255
    estimate = np.mean(pixels**6, axis=(0, 1)) ** (1 / 6)
    assert estimate.max() - estimate.min() < 0.01


def test_a_grey_illuminant_changes_nothing() -> None:
    grey = Image.fromarray(np.tile(np.linspace(20, 230, 200, dtype=np.uint8), (150, 1)))
    image = grey.convert("RGB")
    assert np.abs(np.asarray(shades_of_gray(image), int) - np.asarray(image, int)).max() <= 1
    black = Image.new("RGB", (10, 10))
    assert np.asarray(shades_of_gray(black)).max() == 0


def test_steps_run_in_order_and_report_the_crop_offset() -> None:
    image, offset = preprocess(framed(), ("crop_border", "shades_of_gray"))
    assert offset == (15, 10) and image.size == (179, 140)
    assert preprocess(framed(), ())[1] == (0, 0)
    with pytest.raises(ValueError, match=r"unknown preprocessing steps \['sharpen'\]"):
        check_preprocess(["crop_border", "sharpen"])
