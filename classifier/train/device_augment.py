"""The training augmentations on the training device, on images decoded once.

With ``--augment-on device`` the trainer decodes every training image once (brought to the
training scale and preprocessed, as ``TrainTransform`` does per draw) into one uint8 tensor
on the device, and augments each batch there: on a GPU the data loader no longer limits a run
(issue 22: a member in minutes). The augmentations are ``TrainTransform``'s, drawn from the
same random numbers in the same order, so one seed gives the same flips, turns, rotation,
lesion-guided crop, colour jitter, blur and cutout either way:

- the geometry (dihedral flip/transpose, rotation about the centre, random-resized crop that
  holds the lesion centre, resize to the input) is one affine map per image, sampled once
  bilinearly (``grid_sample``; Jaderberg et al. 2015) where the loader path resamples twice
  (rotation, then crop) with Pillow; the crop enlarges the 150 x 200 training images, so
  neither needs antialiasing;
- brightness, contrast and saturation are ``ImageEnhance``'s blends (with black, the mean
  grey, the greyscale image) in the drawn order, and the hue shift is Pillow's HSV shift;
- the blur is a Gaussian of the drawn radius (Pillow's radius is the standard deviation), the
  cutout the same square set to 0 after normalisation.

The pixels differ from the loader path's only by interpolation and rounding
(``tests/classifier/test_device_augment.py`` compares the two).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from classifier.transforms import Box, TrainTransform, crop_window, rotated_box


@dataclass(frozen=True)
class DecodedImages:
    """Training images decoded once: ``pixels`` N x 3 x H x W uint8 (each image at the top
    left, zero-padded to the largest), with each image's width, height and lesion box."""

    pixels: torch.Tensor
    sizes: list[tuple[int, int]]  # (width, height)
    boxes: list[Box | None]


def decode_images(
    images: Sequence[Image.Image],
    boxes: Sequence[Box | None],
    transform: TrainTransform,
    device: torch.device,
) -> DecodedImages:
    """The images at the training scale, preprocessed (``TrainTransform.prepare``)."""
    arrays, sizes, fitted_boxes = [], [], []
    for image, box in zip(images, boxes, strict=True):
        image, box = transform.prepare(image, box)
        arrays.append(np.array(image, dtype=np.uint8))
        sizes.append((image.width, image.height))
        fitted_boxes.append(box)
    height = max((a.shape[0] for a in arrays), default=1)
    width = max((a.shape[1] for a in arrays), default=1)
    pixels = torch.zeros((len(arrays), 3, height, width), dtype=torch.uint8)
    for index, array in enumerate(arrays):
        pixels[index, :, : array.shape[0], : array.shape[1]] = torch.from_numpy(array).permute(
            2, 0, 1
        )
    return DecodedImages(pixels.to(device), sizes, fitted_boxes)


@dataclass(frozen=True)
class _Draw:
    """One image's random parameters, drawn as ``TrainTransform`` draws them."""

    matrix: np.ndarray  # 3 x 3: output pixel coordinates -> source pixel coordinates
    jitter: list[tuple[str, float]]  # (brightness | contrast | saturation, factor), in order
    hue_shift: int  # Pillow HSV units (of 256)
    blur_sigma: float  # 0: none
    cutout: tuple[int, int] | None  # centre (y, x)


def device_batches(
    augmentation: DeviceAugmentation, order: torch.Tensor, batch_size: int, seed: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """An epoch's batches as ``EpochSamples`` in a ``DataLoader`` (``drop_last``) gives them:
    the image at position p of ``order`` drawn with ``seed * 1_000_003 + p``, so a run and
    its resumption draw the same augmentations either way."""
    indices = order.tolist()
    for start in range(0, len(indices) - batch_size + 1, batch_size):
        batch = indices[start : start + batch_size]
        seeds = [seed * 1_000_003 + position for position in range(start, start + batch_size)]
        yield augmentation(batch, seeds), torch.tensor(batch)


class DeviceAugmentation:
    """``TrainTransform`` for batches of decoded images, on their device."""

    def __init__(self, transform: TrainTransform, images: DecodedImages) -> None:
        self.config, self.augmentation = transform.config, transform.augmentation
        self.images = images
        pixels = images.pixels
        self.mean = pixels.new_tensor(self.config.mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = pixels.new_tensor(self.config.std, dtype=torch.float32).view(1, 3, 1, 1)

    def __call__(self, indices: Sequence[int], seeds: Sequence[int]) -> torch.Tensor:
        """The augmented, normalised batch of the images at ``indices``; image k's numbers
        come from ``random.seed(seeds[k])``, as ``EpochSamples`` seeds a draw."""
        draws = [self._draw(index, seed) for index, seed in zip(indices, seeds, strict=True)]
        height, width = self.config.input_size
        pixels = self.images.pixels[list(indices)].float().div_(255.0)
        grid = F.affine_grid(
            self._normalised(draws, pixels.shape[-2:]),
            [len(draws), 3, height, width],
            align_corners=False,
        )
        batch = F.grid_sample(
            pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        batch = _jitter(batch, draws).clamp_(0.0, 1.0)
        batch = _hue(batch, draws)
        batch = _blur(batch, draws)
        batch = (batch - self.mean) / self.std
        _cutouts(batch, draws)
        return batch

    # -- one image's draw, in TrainTransform's order -------------------------------------
    def _draw(self, index: int, seed: int) -> _Draw:
        aug = self.augmentation
        rng = random.Random(seed)
        width, height = (float(v) for v in self.images.sizes[index])
        box = self.images.boxes[index]
        if box is None or not aug.box_guided:
            box = (0.0, 0.0, width, height)
        matrix = np.eye(3)
        if aug.dihedral:
            left, top, right, bottom = box
            if rng.random() < 0.5:
                matrix = matrix @ np.array([[-1.0, 0, width], [0, 1, 0], [0, 0, 1]])
                left, right = width - right, width - left
            if rng.random() < 0.5:
                matrix = matrix @ np.array([[1.0, 0, 0], [0, -1, height], [0, 0, 1]])
                top, bottom = height - bottom, height - top
            if rng.random() < 0.5:
                matrix = matrix @ np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, 1]])
                left, top, right, bottom = top, left, bottom, right
                width, height = height, width
            box = (left, top, right, bottom)
        if aug.rotate_degrees > 0 and rng.random() < 0.5:
            degrees = rng.uniform(-aug.rotate_degrees, aug.rotate_degrees)
            matrix, box = _rotation(matrix, box, degrees, width, height)
        matrix = matrix @ self._crop(rng, box, width, height)
        jitter = []
        enhancements = [
            ("brightness", aug.brightness),
            ("contrast", aug.contrast),
            ("saturation", aug.saturation),
        ]
        rng.shuffle(enhancements)
        for name, strength in enhancements:
            if strength > 0:
                jitter.append((name, rng.uniform(1 - strength, 1 + strength)))
        hue_shift = round(rng.uniform(-aug.hue, aug.hue) * 255) if aug.hue > 0 else 0
        blur_sigma = 0.0
        if aug.blur > 0 and rng.random() < aug.blur:
            blur_sigma = rng.uniform(0.1, 1.5)
        cutout = None
        if aug.cutout > 0 and rng.random() < aug.cutout:
            out_height, out_width = self.config.input_size
            cutout = (rng.randrange(out_height), rng.randrange(out_width))
        return _Draw(matrix, jitter, hue_shift, blur_sigma, cutout)

    def _crop(self, rng: random.Random, box: Box, width: float, height: float) -> np.ndarray:
        """``TrainTransform._crop``'s window, as the map from output pixels into it."""
        out_height, out_width = self.config.input_size
        left, top, crop_w, crop_h = crop_window(
            box, width, height, self.config.input_size, self.augmentation, rng
        )
        return np.array([[crop_w / out_width, 0, left], [0, crop_h / out_height, top], [0, 0, 1.0]])

    def _normalised(self, draws: list[_Draw], padded: Sequence[int]) -> torch.Tensor:
        """The batch's maps in ``affine_grid``'s coordinates: [-1, 1] spans the padded
        source's edges and the output's (``align_corners=False``)."""
        out_height, out_width = self.config.input_size
        src_height, src_width = padded
        to_source = np.array([[2 / src_width, 0, -1], [0, 2 / src_height, -1], [0, 0, 1.0]])
        from_output = np.array(
            [[out_width / 2, 0, out_width / 2], [0, out_height / 2, out_height / 2], [0, 0, 1.0]]
        )
        thetas = np.stack([(to_source @ d.matrix @ from_output)[:2] for d in draws])
        return torch.tensor(thetas, dtype=torch.float32, device=self.images.pixels.device)


def _rotation(
    matrix: np.ndarray, box: Box, degrees: float, width: float, height: float
) -> tuple[np.ndarray, Box]:
    """Pillow's ``rotate(degrees)`` (counter-clockwise about the centre, the same canvas) as
    the map from the rotated image into the current one, and the rotated box's bounds."""
    cx, cy = width / 2, height / 2
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    inverse = np.array(
        [[cos, -sin, cx - cos * cx + sin * cy], [sin, cos, cy - sin * cx - cos * cy], [0, 0, 1.0]]
    )
    return matrix @ inverse, rotated_box(box, degrees, width, height)


def _grey(batch: torch.Tensor) -> torch.Tensor:
    """Pillow's "L": 299/1000 R + 587/1000 G + 114/1000 B."""
    weights = batch.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (batch * weights).sum(dim=1, keepdim=True)


def _jitter(batch: torch.Tensor, draws: list[_Draw]) -> torch.Tensor:
    """``ImageEnhance`` Brightness, Contrast and Color, each image in its own drawn order."""
    steps = max((len(d.jitter) for d in draws), default=0)
    for step in range(steps):
        ops = [d.jitter[step] if step < len(d.jitter) else ("brightness", 1.0) for d in draws]
        factor = batch.new_tensor([f for _, f in ops]).view(-1, 1, 1, 1)
        names = [name for name, _ in ops]
        contrast = batch.new_tensor([n == "contrast" for n in names]).view(-1, 1, 1, 1) > 0
        saturation = batch.new_tensor([n == "saturation" for n in names]).view(-1, 1, 1, 1) > 0
        grey = _grey(batch)
        # Each image's "degenerate" image: black (brightness), its mean grey (contrast) or its
        # greyscale (saturation).
        target = torch.where(
            contrast,
            grey.mean(dim=(2, 3), keepdim=True),
            torch.where(saturation, grey, torch.zeros_like(grey)),
        )
        batch = (target + factor * (batch - target)).clamp_(0.0, 1.0)
    return batch


def _hue(batch: torch.Tensor, draws: list[_Draw]) -> torch.Tensor:
    """Pillow's hue shift: H of HSV moved by ``shift`` of 256, wrapping round."""
    shifts = batch.new_tensor([d.hue_shift / 256 for d in draws]).view(-1, 1, 1)
    if not bool((shifts != 0).any()):
        return batch
    red, green, blue = batch.unbind(dim=1)
    value, _ = batch.max(dim=1)
    minimum, _ = batch.min(dim=1)
    chroma = value - minimum
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    hue = torch.where(
        value == red,
        ((green - blue) / safe) % 6,
        torch.where(value == green, (blue - red) / safe + 2, (red - green) / safe + 4),
    )
    hue = torch.where(chroma > 0, hue / 6, torch.zeros_like(hue))
    hue = (hue + shifts) % 1.0
    # HSV back to RGB (the standard piecewise form, vectorised).
    k = torch.stack([(5 + hue * 6) % 6, (3 + hue * 6) % 6, (1 + hue * 6) % 6], dim=1)
    ramp = torch.clamp(torch.minimum(k, 4 - k), 0.0, 1.0)
    return value.unsqueeze(1) - chroma.unsqueeze(1) * ramp


def _blur(batch: torch.Tensor, draws: list[_Draw]) -> torch.Tensor:
    """A Gaussian blur of each drawn radius (standard deviation), 3 sigma wide."""
    chosen = [k for k, d in enumerate(draws) if d.blur_sigma > 0]
    if not chosen:
        return batch
    radius = math.ceil(3 * max(draws[k].blur_sigma for k in chosen))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32, device=batch.device)
    sigmas = batch.new_tensor([draws[k].blur_sigma for k in chosen]).view(-1, 1)
    kernels = torch.exp(-0.5 * (offsets.view(1, -1) / sigmas) ** 2)
    kernels = (kernels / kernels.sum(dim=1, keepdim=True)).repeat_interleave(3, dim=0)
    selected = batch[chosen]
    n, _, height, width = selected.shape
    flat = selected.reshape(1, n * 3, height, width)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="replicate")
    flat = F.conv2d(flat, kernels.view(n * 3, 1, 1, -1), groups=n * 3)
    flat = F.conv2d(flat, kernels.view(n * 3, 1, -1, 1), groups=n * 3)
    batch = batch.clone()
    batch[chosen] = flat.view(n, 3, height, width)
    return batch


def _cutouts(batch: torch.Tensor, draws: list[_Draw]) -> None:
    """``TrainTransform``'s cutout at each drawn centre, in place."""
    _, _, height, width = batch.shape
    side = max(1, min(height, width) // 4)
    for k, draw in enumerate(draws):
        if draw.cutout is not None:
            cy, cx = draw.cutout
            top, left = max(0, cy - side // 2), max(0, cx - side // 2)
            batch[k, :, top : top + side, left : left + side] = 0.0
