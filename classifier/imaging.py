"""Image geometry shared by every model's eval preprocessing; Pillow only, no torch, so that
the ONNX runner (classifier.external) works where torch is not installed."""

from __future__ import annotations

from PIL import Image


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


def resize_stretch(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize (antialiased, bilinear) to exactly ``size`` (height, width), aspect ratio lost
    (what Keras' ``image_dataset_from_directory`` and many TensorFlow pipelines do)."""
    height, width = size
    if image.size == (width, height):
        return image
    return image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=None)
