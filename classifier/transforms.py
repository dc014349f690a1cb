"""Image transforms: the eval preset every prediction uses and the training augmentations.

The eval preset first brings an image larger than the model's training images down to their
scale (``fit_to_source``, when the checkpoint records that scale), applies the checkpoint's
preprocessing steps (``crop_border``, ``shades_of_gray``: classifier.imaging), then resizes
it (with antialiasing) until it covers the model's input size, keeping its aspect ratio, and
crops the centre: a 4:3 dermoscopy image at a 4:3 input size is used whole. Training takes the
same first steps, so a model sees every image at the scale and in the colours it learnt from.

Training augments as dermoscopy allows, since a lesion has no up or down: the eight flips and
quarter turns, a small rotation, a random crop guided by the lesion's bounding box (when the
metadata has one; HAM10000 does), colour jitter for camera and lighting, and optionally a
slight blur and one cutout.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageFilter

from classifier.checkpoint import ModelConfig
from classifier.imaging import fit_to_source, preprocess, resize_cover

Box = tuple[float, float, float, float]  # left, top, right, bottom in pixels


def to_tensor(image: Image.Image, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """An RGB PIL image as a normalised float CHW tensor."""
    # The same arithmetic as (x / 255 - mean) / std in float32, done in place on one tensor.
    pixels = torch.from_numpy(np.array(image.convert("RGB"), dtype=np.uint8)).permute(2, 0, 1)
    m = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return pixels.contiguous().float().div_(255.0).sub_(m).div_(s)


def eval_transform(config: ModelConfig) -> Callable[[Image.Image], torch.Tensor]:
    """The eval preset for a model: cover-resize, centre crop, normalise (timm-style)."""

    def transform(image: Image.Image) -> torch.Tensor:
        image = fit_to_source(image.convert("RGB"), config.source_size)
        image, _ = preprocess(image, config.preprocess)
        return to_tensor(resize_cover(image, config.input_size), config.mean, config.std)

    return transform


@dataclass(frozen=True)
class Augmentation:
    """Strength of the training augmentations (defaults: the shipped recipe)."""

    dihedral: bool = True  # random flips and quarter turns
    rotate_degrees: float = 20.0  # extra rotation in [-d, d], with probability 0.5
    scale: tuple[float, float] = (0.35, 1.0)  # crop area as a fraction of the image
    ratio: tuple[float, float] = (3 / 4, 4 / 3)  # crop aspect relative to the input's
    box_guided: bool = True  # keep the lesion box's centre inside the crop
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.25
    hue: float = 0.03
    blur: float = 0.0  # probability of a Gaussian blur (radius 0.1-1.5 px): focus, motion
    cutout: float = 0.0  # probability of one cutout (DeVries & Taylor 2017) of 1/4 the side


class TrainTransform:
    """Training augmentation for one model config; randomness from ``random`` (seeded by the
    trainer, so a run is reproducible)."""

    def __init__(self, config: ModelConfig, augmentation: Augmentation | None = None) -> None:
        self.config = config
        self.augmentation = augmentation or Augmentation()

    def prepare(self, image: Image.Image, box: Box | None) -> tuple[Image.Image, Box | None]:
        """The steps before augmenting, the same at every draw: the image brought to the
        training scale and preprocessed, with its lesion box moved along."""
        image, box = _fit_to_source(image.convert("RGB"), box, self.config.source_size)
        return _preprocess(image, box, self.config.preprocess)

    def __call__(self, image: Image.Image, box: Box | None = None) -> torch.Tensor:
        aug = self.augmentation
        image, box = self.prepare(image, box)
        if box is None or not aug.box_guided:
            box = (0.0, 0.0, float(image.width), float(image.height))
        if aug.dihedral:
            image, box = _random_dihedral(image, box)
        if aug.rotate_degrees > 0 and random.random() < 0.5:
            image, box = _rotate(
                image, box, random.uniform(-aug.rotate_degrees, aug.rotate_degrees)
            )
        image = self._crop(image, box)
        image = _colour_jitter(image, aug)
        if aug.blur > 0 and random.random() < aug.blur:
            image = image.filter(ImageFilter.GaussianBlur(random.uniform(0.1, 1.5)))
        tensor = to_tensor(image, self.config.mean, self.config.std)
        if aug.cutout > 0 and random.random() < aug.cutout:
            _cutout(tensor)
        return tensor

    def _crop(self, image: Image.Image, box: Box) -> Image.Image:
        """A random-resized crop (Szegedy et al. 2015) whose window holds the lesion centre."""
        height, width = self.config.input_size
        left, top, crop_w, crop_h = crop_window(
            box, image.width, image.height, self.config.input_size, self.augmentation, random
        )
        window = (left, top, left + crop_w, top + crop_h)
        return image.resize(
            (width, height), Image.Resampling.BILINEAR, box=window, reducing_gap=None
        )


def crop_window(
    box: Box,
    width: float,
    height: float,
    input_size: tuple[int, int],
    aug: Augmentation,
    rng: Any,
) -> tuple[float, float, float, float]:
    """A random-resized crop's window (left, top, width, height) in an image of ``width`` x
    ``height``: ``aug.scale`` of its area at ``aug.ratio`` of the input's aspect, holding the
    lesion ``box``'s centre; drawn from ``rng`` (the ``random`` module or a ``Random``)."""
    out_height, out_width = input_size
    area = width * height
    target_ratio = out_width / out_height
    fraction = rng.uniform(*aug.scale)
    log_lo, log_hi = math.log(aug.ratio[0]), math.log(aug.ratio[1])
    ratio = target_ratio * math.exp(rng.uniform(log_lo, log_hi))
    crop_w = min(width, max(8.0, math.sqrt(area * fraction * ratio)))
    crop_h = min(height, max(8.0, math.sqrt(area * fraction / ratio)))
    left = window_start(box[0], box[2], crop_w, width, rng.uniform)
    top = window_start(box[1], box[3], crop_h, height, rng.uniform)
    return left, top, crop_w, crop_h


def _fit_to_source(
    image: Image.Image, box: Box | None, source_size: tuple[int, int] | None
) -> tuple[Image.Image, Box | None]:
    """``fit_to_source``, with the lesion box scaled along."""
    fitted = fit_to_source(image, source_size)
    if box is None or fitted.size == image.size:
        return fitted, box
    sx, sy = fitted.width / image.width, fitted.height / image.height
    return fitted, (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


def _preprocess(
    image: Image.Image, box: Box | None, steps: Sequence[str]
) -> tuple[Image.Image, Box | None]:
    """``preprocess``, with the lesion box shifted along (and kept inside the image)."""
    if not steps:
        return image, box
    processed, (left, top) = preprocess(image, steps)
    if box is None or ((left, top) == (0, 0) and processed.size == image.size):
        return processed, box
    width, height = float(processed.width), float(processed.height)
    shifted = (
        min(max(box[0] - left, 0.0), width),
        min(max(box[1] - top, 0.0), height),
        min(max(box[2] - left, 0.0), width),
        min(max(box[3] - top, 0.0), height),
    )
    empty = shifted[2] - shifted[0] < 1 or shifted[3] - shifted[1] < 1
    return processed, None if empty else shifted


def _cutout(tensor: torch.Tensor) -> None:
    """Set one square of a quarter of the shorter side to 0 (the normalised mean), in place."""
    _, height, width = tensor.shape
    side = max(1, min(height, width) // 4)
    cy, cx = random.randrange(height), random.randrange(width)
    top, left = max(0, cy - side // 2), max(0, cx - side // 2)
    tensor[:, top : top + side, left : left + side] = 0.0


def window_start(
    lo: float,
    hi: float,
    size: float,
    limit: float,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """A random start of a window of ``size`` within [0, limit] that holds the whole of
    [lo, hi] when it fits, else lies inside it; the lesion centre is always inside."""
    if size >= hi - lo:
        first, last = hi - size, lo
    else:
        first, last = lo, hi - size
    first, last = max(0.0, first), min(limit - size, last)
    if first > last:
        centre = (lo + hi) / 2
        first = last = min(max(0.0, centre - size / 2), limit - size)
    return uniform(first, last)


def _random_dihedral(image: Image.Image, box: Box) -> tuple[Image.Image, Box]:
    left, top, right, bottom = box
    if random.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        left, right = image.width - right, image.width - left
    if random.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        top, bottom = image.height - bottom, image.height - top
    if random.random() < 0.5:
        image = image.transpose(Image.Transpose.TRANSPOSE)
        left, top, right, bottom = top, left, bottom, right
    return image, (left, top, right, bottom)


def _rotate(image: Image.Image, box: Box, degrees: float) -> tuple[Image.Image, Box]:
    """Rotate about the centre (counter-clockwise, as PIL does) with the lesion box along."""
    rotated = image.rotate(degrees, resample=Image.Resampling.BILINEAR)
    return rotated, rotated_box(box, degrees, image.width, image.height)


def rotated_box(box: Box, degrees: float, width: float, height: float) -> Box:
    """The bounds of ``box`` after Pillow's ``rotate(degrees)`` of a ``width`` x ``height``
    image about its centre, clipped to the image (the canvas keeps its size)."""
    cx, cy = width / 2, height / 2
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    xs, ys = [], []
    for x, y in ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3])):
        xs.append(cx + (x - cx) * cos + (y - cy) * sin)
        ys.append(cy - (x - cx) * sin + (y - cy) * cos)
    return (
        max(0.0, min(xs)),
        max(0.0, min(ys)),
        min(float(width), max(xs)),
        min(float(height), max(ys)),
    )


def _colour_jitter(image: Image.Image, aug: Augmentation) -> Image.Image:
    enhancements = [
        (ImageEnhance.Brightness, aug.brightness),
        (ImageEnhance.Contrast, aug.contrast),
        (ImageEnhance.Color, aug.saturation),
    ]
    random.shuffle(enhancements)
    for enhancer, strength in enhancements:
        if strength > 0:
            image = enhancer(image).enhance(random.uniform(1 - strength, 1 + strength))
    if aug.hue > 0:
        shift = round(random.uniform(-aug.hue, aug.hue) * 255)
        if shift:
            h, s, v = image.convert("HSV").split()
            h = h.point(lambda p: (p + shift) % 256)
            image = Image.merge("HSV", (h, s, v)).convert("RGB")
    return image
