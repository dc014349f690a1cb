"""Image geometry and colour shared by every model's preprocessing; Pillow and numpy only, no
torch, so that the ONNX runner (classifier.external) works where torch is not installed.

Besides the resizes, a native checkpoint may name preprocessing steps (``ModelConfig.preprocess``)
that training and every prediction apply alike, after ``fit_to_source``:

- ``crop_border``: cut off the dark bands a dermatoscope's frame leaves along the edges;
- ``shades_of_gray``: Shades of Gray colour constancy, p = 6 (Finlayson & Trezzi 2004; for
  dermoscopy Barata et al., IEEE JBHI 2015; Gessert et al.'s ISIC 2019 preprocessing).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

PREPROCESS_STEPS = ("crop_border", "shades_of_gray")
# A band is frame when its mean luminance is below this (of 255); the crop never takes more than
# a quarter of the width or height from each side (a dark lesion at the edge stays).
FRAME_LUMINANCE = 30.0
FRAME_MAX_FRACTION = 0.25


def resize_cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize (antialiased, bilinear) so the image covers ``size`` (height, width), then crop
    the centre to exactly ``size`` (timm's eval preset with crop_pct = 1)."""
    height, width = size
    scale = max(height / image.height, width / image.width)
    new_w = max(width, round(image.width * scale))
    new_h = max(height, round(image.height * scale))
    if (new_w, new_h) != image.size:
        image = image.resize((new_w, new_h), Image.Resampling.BILINEAR, reducing_gap=None)
    left = (new_w - width) // 2
    top = (new_h - height) // 2
    return image.crop((left, top, left + width, top + height))


def fit_to_source(image: Image.Image, source_size: tuple[int, int] | None) -> Image.Image:
    """Bring an image larger than a model's training images down to their scale: the smallest
    size, aspect ratio kept, that still covers ``source_size`` (height, width), antialiased
    bilinear. Smaller images are returned as they are, and so is every image when the model
    records no source size.

    A network recognises a structure at the apparent size it was trained on (FixRes: Touvron
    et al., NeurIPS 2019). The shipped model learnt from HAM10000's 200 x 150 copy, enlarged to
    its input; a 1024 px study image resized straight to the input reaches it far sharper than
    anything it was trained on. Bilinear is the Pillow filter whose output is closest to that
    copy (mean absolute pixel difference 2.3 on the 70 images the full-resolution sample shares
    with it; bicubic 2.4, box 2.5, Lanczos 2.6).
    """
    if source_size is None:
        return image
    height, width = source_size
    scale = max(height / image.height, width / image.width)
    if scale >= 1:
        return image
    new_w = max(width, round(image.width * scale))
    new_h = max(height, round(image.height * scale))
    return image.resize((new_w, new_h), Image.Resampling.BILINEAR, reducing_gap=None)


def resize_stretch(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize (antialiased, bilinear) to exactly ``size`` (height, width), aspect ratio lost
    (what Keras' ``image_dataset_from_directory`` and many TensorFlow pipelines do)."""
    height, width = size
    if image.size == (width, height):
        return image
    return image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=None)


def border_box(image: Image.Image) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the image without the dark bands of a dermatoscope's frame
    along its edges: rows and columns from each edge inward while their mean luminance is below
    FRAME_LUMINANCE, at most FRAME_MAX_FRACTION of the size per side."""
    luminance = np.asarray(image.convert("L"), dtype=np.float32)
    rows, columns = luminance.mean(axis=1), luminance.mean(axis=0)

    def dark_run(values: np.ndarray) -> int:
        limit = int(len(values) * FRAME_MAX_FRACTION)
        bright = np.flatnonzero(values[:limit] >= FRAME_LUMINANCE)
        return int(bright[0]) if len(bright) else limit

    top, left = dark_run(rows), dark_run(columns)
    bottom = image.height - dark_run(rows[::-1])
    right = image.width - dark_run(columns[::-1])
    return (left, top, right, bottom)


def crop_border(image: Image.Image) -> Image.Image:
    """The image without its frame's dark bands (``border_box``)."""
    box = border_box(image)
    return image if box == (0, 0, image.width, image.height) else image.crop(box)


def shades_of_gray(image: Image.Image, power: float = 6.0) -> Image.Image:
    """Shades of Gray colour constancy: each channel is divided by its p-norm illuminant
    estimate, normalised so a grey illuminant leaves the image as it is (Finlayson & Trezzi,
    CIC 2004; p = 6 as Barata et al. 2015 and Gessert et al. 2020 use for dermoscopy)."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    illuminant = np.power(np.mean(np.power(pixels / 255.0, power), axis=(0, 1)), 1.0 / power)
    norm = float(np.sqrt(np.sum(illuminant**2)))
    if norm <= 0:  # a black image: nothing to correct
        return image.convert("RGB")
    gains = 1.0 / (illuminant / norm * np.sqrt(3.0))
    corrected = np.clip(pixels * gains, 0, 255)
    return Image.fromarray(np.rint(corrected).astype(np.uint8))


def check_preprocess(steps: Sequence[str]) -> tuple[str, ...]:
    """The steps as a tuple; raises ValueError for a step this program does not know."""
    unknown = [step for step in steps if step not in PREPROCESS_STEPS]
    if unknown:
        raise ValueError(f"unknown preprocessing steps {unknown} (known: {PREPROCESS_STEPS})")
    return tuple(steps)


def preprocess(image: Image.Image, steps: Sequence[str]) -> tuple[Image.Image, tuple[int, int]]:
    """Apply the named steps in order; returns the image and the (left, top) offset of what
    remains in the input (a crop shifts the lesion's box by it)."""
    left = top = 0
    for step in steps:
        if step == "crop_border":
            box = border_box(image)
            if box != (0, 0, image.width, image.height):
                image = image.crop(box)
                left, top = left + box[0], top + box[1]
        elif step == "shades_of_gray":
            image = shades_of_gray(image)
        else:
            check_preprocess([step])
    return image, (left, top)
