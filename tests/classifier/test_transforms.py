"""The eval preset and the training augmentation."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from classifier.checkpoint import ModelConfig
from classifier.transforms import (
    Augmentation,
    TrainTransform,
    eval_transform,
    fit_to_source,
    resize_cover,
    window_start,
)

CONFIG = ModelConfig(
    arch="efficientnet_lite0",
    input_size=(150, 200),
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    class_names=("a", "b"),
    taxonomy_version="1",
)


def gradient_image(width: int, height: int) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
    array = np.concatenate(
        [
            np.broadcast_to(x, (height, width, 1)),
            np.broadcast_to(y, (height, width, 1)),
            np.full((height, width, 1), 128.0),
        ],
        axis=2,
    )
    return Image.fromarray(array.astype(np.uint8))


@pytest.mark.parametrize("size", [(200, 150), (1024, 768), (919, 802), (150, 200)])
def test_eval_preset_gives_the_input_size_normalised(size: tuple[int, int]) -> None:
    tensor = eval_transform(CONFIG)(gradient_image(*size))
    assert tensor.shape == (3, 150, 200)
    assert tensor.dtype == torch.float32
    assert -1.0 <= float(tensor.min()) and float(tensor.max()) <= 1.0


@pytest.mark.parametrize(
    ("size", "fitted"),
    [
        ((600, 450), (200, 150)),  # HAM10000's full resolution -> its 200 x 150 copy
        ((1022, 767), (200, 150)),  # an ISIC image
        ((1000, 500), (300, 150)),  # wider than 4:3: covers the height, aspect kept
        ((200, 150), (200, 150)),  # already at the training scale
        ((120, 90), (120, 90)),  # smaller images are never enlarged here
    ],
)
def test_fit_to_source_brings_larger_images_to_the_training_scale(
    size: tuple[int, int], fitted: tuple[int, int]
) -> None:
    assert fit_to_source(gradient_image(*size), (150, 200)).size == fitted
    assert fit_to_source(gradient_image(*size), None).size == size


def test_eval_preset_first_brings_a_large_image_to_the_source_size() -> None:
    image = gradient_image(1200, 900)
    image.putpixel((600, 450), (255, 0, 0))  # detail the 200 x 150 scale cannot keep
    aligned = replace(CONFIG, input_size=(225, 300), source_size=(150, 200))
    two_steps = eval_transform(replace(aligned, source_size=None))(
        image.resize((200, 150), Image.Resampling.BILINEAR, reducing_gap=None)
    )
    assert torch.equal(eval_transform(aligned)(image), two_steps)
    direct = eval_transform(replace(aligned, source_size=None))(image)
    assert not torch.equal(direct, two_steps)


def test_training_brings_large_images_and_their_lesion_box_to_the_source_size() -> None:
    config = replace(CONFIG, source_size=(150, 200))
    augmentation = Augmentation(
        dihedral=False, rotate_degrees=0, scale=(0.01, 0.01), ratio=(1, 1), brightness=0,
        contrast=0, saturation=0, hue=0,
    )  # fmt: skip
    image = Image.new("RGB", (600, 450), (0, 0, 0))
    image.paste((255, 255, 255), (60, 45, 150, 135))  # the white lesion on black skin
    for seed in range(5):
        random.seed(seed)
        crop = TrainTransform(config, augmentation)(image, (60.0, 45.0, 150.0, 135.0))
        # A 1% crop inside the lesion's box: the box was scaled with the image (to 20..50 x
        # 15..45), so the crop is white; kept at 60..150 x 45..135 it would be black skin.
        assert float(crop.mean()) > 0.9


def test_eval_preset_keeps_a_4_by_3_image_whole() -> None:
    image = gradient_image(400, 300)
    out = resize_cover(image, (150, 200))
    assert out.size == (200, 150)
    # The left and right edges of the image survive: no crop.
    assert np.asarray(out)[:, 0, 0].mean() < 3
    assert np.asarray(out)[:, -1, 0].mean() > 252


def test_eval_preset_crops_the_centre_of_a_square_image() -> None:
    out = np.asarray(resize_cover(gradient_image(300, 300), (150, 200)))
    assert out.shape == (150, 200, 3)
    assert out[0, :, 1].mean() > 25  # the top eighth was cut away


def test_training_transform_gives_the_input_size_and_varies() -> None:
    transform = TrainTransform(CONFIG)
    random.seed(0)
    image = gradient_image(200, 150)
    first = transform(image, (50.0, 40.0, 120.0, 100.0))
    second = transform(image, (50.0, 40.0, 120.0, 100.0))
    assert first.shape == second.shape == (3, 150, 200)
    assert not torch.equal(first, second)


def test_training_transform_is_reproducible_from_the_seed() -> None:
    transform = TrainTransform(CONFIG)
    image = gradient_image(200, 150)
    random.seed(5)
    first = transform(image)
    random.seed(5)
    assert torch.equal(first, transform(image))


def test_box_guided_crop_keeps_the_lesion_centre_in_view() -> None:
    """A white lesion on black skin stays in every crop."""
    array = np.zeros((150, 200, 3), dtype=np.uint8)
    array[20:40, 150:180] = 255  # a small lesion near the top-right corner
    image = Image.fromarray(array)
    transform = TrainTransform(
        CONFIG, Augmentation(rotate_degrees=0, brightness=0, contrast=0, saturation=0, hue=0)
    )
    random.seed(1)
    for _ in range(40):
        crop = transform(image, (150.0, 20.0, 180.0, 40.0))
        assert float(crop.max()) > 0.9


@pytest.mark.parametrize(
    ("lo", "hi", "size", "limit"),
    [(50, 120, 100, 200), (50, 120, 40, 200), (0, 200, 200, 200), (180, 200, 100, 200)],
)
def test_crop_window_holds_the_box_centre(lo: float, hi: float, size: float, limit: float) -> None:
    random.seed(2)
    for _ in range(50):
        start = window_start(lo, hi, size, limit)
        assert 0 <= start <= limit - size
        assert start <= (lo + hi) / 2 <= start + size


def _framed(width: int, height: int) -> Image.Image:
    image = np.asarray(gradient_image(width, height)).copy()
    image[:, :20] = 0  # the dark band of a dermatoscope's frame on the left
    image[:, 20:] = np.maximum(image[:, 20:], 60)
    return Image.fromarray(image)


def test_eval_preset_applies_the_checkpoints_preprocessing() -> None:
    config = replace(CONFIG, preprocess=("crop_border",))
    image = _framed(220, 150)
    expected = eval_transform(CONFIG)(image.crop((20, 0, 220, 150)))
    assert torch.equal(eval_transform(config)(image), expected)
    assert not torch.equal(eval_transform(CONFIG)(image), expected)


def test_training_crops_the_frame_and_shifts_the_lesion_box_along() -> None:
    config = replace(CONFIG, preprocess=("crop_border",))
    augmentation = Augmentation(
        dihedral=False, rotate_degrees=0, scale=(0.01, 0.01), ratio=(1, 1), brightness=0,
        contrast=0, saturation=0, hue=0,
    )  # fmt: skip
    image = Image.new("RGB", (240, 150), (90, 90, 90))
    image.paste((0, 0, 0), (0, 0, 40, 150))  # the frame
    image.paste((255, 255, 255), (60, 40, 100, 80))  # the lesion
    for seed in range(5):
        random.seed(seed)
        crop = TrainTransform(config, augmentation)(image, (60.0, 40.0, 100.0, 80.0))
        # The crop is taken from the 200 x 150 image without the frame, with the box moved 40
        # px left with it: a small crop inside the box is white.
        assert float(crop.min()) > 0.9


def test_blur_and_cutout_augment_when_asked() -> None:
    image = gradient_image(200, 150)
    plain = Augmentation(
        dihedral=False, rotate_degrees=0, scale=(1, 1), ratio=(1, 1), brightness=0,
        contrast=0, saturation=0, hue=0,
    )  # fmt: skip
    random.seed(0)
    reference = TrainTransform(CONFIG, plain)(image)
    random.seed(0)
    cut = TrainTransform(CONFIG, replace(plain, cutout=1.0))(image)
    changed = (cut != reference).any(dim=0)
    assert 0 < changed.sum() <= 37 * 37  # one square of a quarter of 150 px, maybe clipped
    assert torch.all(cut[:, changed] == 0)
    # A blur smooths detail (a gradient has none): a checkerboard of 2-pixel squares.
    board = Image.fromarray(
        (np.indices((150, 200)).sum(axis=0) // 2 % 2 * 255).astype(np.uint8)
    ).convert("RGB")
    random.seed(0)
    sharp = TrainTransform(CONFIG, plain)(board)
    random.seed(0)
    blurred = TrainTransform(CONFIG, replace(plain, blur=1.0))(board)
    assert float(blurred.std()) < 0.9 * float(sharp.std())
    assert float(blurred.mean()) == pytest.approx(float(sharp.mean()), abs=0.02)
