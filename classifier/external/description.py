"""The JSON description that comes with a model trained elsewhere (an ONNX file or a timm
state_dict): how to turn an image into its input and its output into taxonomy probabilities.

    {
      "name": "ISIC 2019 EfficientNet-B0 (ONNX)",
      "input_size": [224, 224],
      "layout": "NCHW",
      "channel_order": "RGB",
      "resize": "cover",
      "mean": [0.485, 0.456, 0.406],
      "std": [0.229, 0.224, 0.225],
      "class_names": ["melanoma", "nevus", "other"],
      "outputs": "logits",
      "taxonomy_mapping": {"melanoma": "mel", "nevus": "nv", "other": null},
      "metrics": {"auc_mel_vs_nv": 0.91},
      "notes": "free text for the model card"
    }

Pixels are scaled to [0, 1], put in ``channel_order``, then normalised with ``mean`` and
``std`` (per channel, in that order). ``resize`` is ``cover`` (resize until the image covers
the input, keep the aspect ratio, crop the centre: this project's own preset) or ``stretch``
(resize to exactly the input size). ``taxonomy_mapping`` sends every output class to one of
the taxonomy's training classes, or to ``null`` for an output that belongs to none; the
probabilities of outputs mapped to one class are summed (the taxonomy rule of Esteva et al.
2017), so task probabilities come from the same sums as for the native models.

A model with a single output (a sigmoid, as binary Keras and scikit-learn models give) names
two classes, the one its output is *not* about first: ``"class_names": ["nevus", "melanoma"]``
reads the output as the score of melanoma (a logit, or a probability), and nevus gets the rest.

Every error names the field it is about (``DescriptionError.field``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from classifier.imaging import resize_cover, resize_stretch

LAYOUTS = ("NCHW", "NHWC")
CHANNEL_ORDERS = ("RGB", "BGR")
RESIZE_RULES = ("cover", "stretch")
OUTPUT_KINDS = ("logits", "probabilities")
REQUIRED = (
    "input_size",
    "layout",
    "channel_order",
    "resize",
    "mean",
    "std",
    "class_names",
    "outputs",
    "taxonomy_mapping",
)
OPTIONAL = ("name", "metrics", "notes")


class DescriptionError(ValueError):
    """A description that is incomplete, inconsistent, or does not fit its model file."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class ModelDescription:
    input_size: tuple[int, int]  # (height, width)
    layout: str
    channel_order: str
    resize: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    class_names: tuple[str, ...]
    outputs: str
    taxonomy_mapping: dict[str, str | None]
    name: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_size": list(self.input_size),
            "layout": self.layout,
            "channel_order": self.channel_order,
            "resize": self.resize,
            "mean": list(self.mean),
            "std": list(self.std),
            "class_names": list(self.class_names),
            "outputs": self.outputs,
            "taxonomy_mapping": dict(self.taxonomy_mapping),
            "metrics": dict(self.metrics),
            "notes": self.notes,
        }

    @property
    def sha256(self) -> str:
        """sha256 of the canonical JSON (sorted keys, no spaces): the description's identity."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def class_matrix(self, training_classes: Sequence[str]) -> np.ndarray:
        """(outputs x training classes) 0/1 matrix that sums each output into its class."""
        matrix = np.zeros((len(self.class_names), len(training_classes)), dtype=np.float32)
        for row, name in enumerate(self.class_names):
            target = self.taxonomy_mapping[name]
            if target is not None:
                matrix[row, list(training_classes).index(target)] = 1.0
        return matrix

    def input_shape(self, batch: int | str = "N") -> tuple[int | str, ...]:
        height, width = self.input_size
        return (batch, 3, height, width) if self.layout == "NCHW" else (batch, height, width, 3)

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """One image as the network's float32 input (without the batch axis)."""
        image = image.convert("RGB")
        resize = resize_cover if self.resize == "cover" else resize_stretch
        pixels: np.ndarray = np.asarray(resize(image, self.input_size), dtype=np.float32) / 255.0
        if self.channel_order == "BGR":
            pixels = pixels[..., ::-1]
        mean = np.asarray(self.mean, dtype=np.float32)
        pixels = (pixels - mean) / np.asarray(self.std, dtype=np.float32)
        if self.layout == "NCHW":
            pixels = pixels.transpose(2, 0, 1)
        return np.ascontiguousarray(pixels, dtype=np.float32)


def _choice(data: Mapping[str, Any], key: str, choices: Sequence[str]) -> str:
    value = data[key]
    if value not in choices:
        raise DescriptionError(key, f"{value!r} is not one of {', '.join(choices)}")
    return str(value)


def _triple(data: Mapping[str, Any], key: str, *, positive: bool) -> tuple[float, float, float]:
    value = data[key]
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise DescriptionError(key, f"expected three numbers, got {value!r}") from None
    if len(numbers) != 3:
        raise DescriptionError(key, f"expected three numbers (one per channel), got {value!r}")
    if positive and min(numbers) <= 0:
        raise DescriptionError(key, f"every value must be positive, got {value!r}")
    return numbers[0], numbers[1], numbers[2]


def _input_size(value: Any) -> tuple[int, int]:
    if (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        return int(value[0]), int(value[1])
    raise DescriptionError("input_size", f"expected [height, width] in pixels, got {value!r}")


def description_from_dict(
    data: Any, *, training_classes: Sequence[str], source: str = "description"
) -> ModelDescription:
    """Validate a parsed JSON description; raises DescriptionError naming the field."""
    if not isinstance(data, Mapping):
        raise DescriptionError("(top level)", f"{source} must be a JSON object")
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise DescriptionError(
            missing[0], f"missing from {source} (required: {', '.join(REQUIRED)})"
        )
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise DescriptionError(unknown[0], f"unknown field in {source}")
    class_names = data["class_names"]
    if (
        not isinstance(class_names, Sequence)
        or isinstance(class_names, str)
        or not class_names
        or not all(isinstance(c, str) and c for c in class_names)
    ):
        raise DescriptionError("class_names", "expected a list of the output's class names")
    if len(set(class_names)) != len(class_names):
        raise DescriptionError("class_names", "a class name appears twice")
    if len(class_names) == 1:
        raise DescriptionError(
            "class_names",
            "one class alone would always get probability 1: a model with a single (sigmoid) "
            "output names two classes, the one its output is not about first, e.g. "
            '["nevus", "melanoma"]',
        )
    mapping = data["taxonomy_mapping"]
    if not isinstance(mapping, Mapping):
        raise DescriptionError("taxonomy_mapping", "expected an object: output class -> class")
    unmapped = [c for c in class_names if c not in mapping]
    if unmapped:
        raise DescriptionError("taxonomy_mapping", f"no entry for the output class {unmapped[0]!r}")
    extra = [key for key in mapping if key not in class_names]
    if extra:
        raise DescriptionError("taxonomy_mapping", f"{extra[0]!r} is not in class_names")
    for output, target in mapping.items():
        if target is not None and target not in training_classes:
            raise DescriptionError(
                "taxonomy_mapping",
                f"{output!r} -> {target!r}: not a training class of the taxonomy "
                f"({', '.join(training_classes)}) nor null",
            )
    if all(target is None for target in mapping.values()):
        raise DescriptionError("taxonomy_mapping", "no output class is mapped onto the taxonomy")
    metrics = data.get("metrics") or {}
    if not isinstance(metrics, Mapping):
        raise DescriptionError("metrics", "expected an object of the model's own stated metrics")
    return ModelDescription(
        input_size=_input_size(data["input_size"]),
        layout=_choice(data, "layout", LAYOUTS),
        channel_order=_choice(data, "channel_order", CHANNEL_ORDERS),
        resize=_choice(data, "resize", RESIZE_RULES),
        mean=_triple(data, "mean", positive=False),
        std=_triple(data, "std", positive=True),
        class_names=tuple(class_names),
        outputs=_choice(data, "outputs", OUTPUT_KINDS),
        taxonomy_mapping={c: mapping[c] for c in class_names},
        name=str(data.get("name") or ""),
        metrics=dict(metrics),
        notes=str(data.get("notes") or ""),
    )


def load_description(
    raw: bytes | str, *, training_classes: Sequence[str], source: str = "description"
) -> ModelDescription:
    """Parse and validate the JSON text of a description."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise DescriptionError("(top level)", f"{source} is not valid JSON: {error}") from None
    return description_from_dict(data, training_classes=training_classes, source=source)


def combined_sha256(file_sha256: str, description: ModelDescription) -> str:
    """The identity of a model brought from elsewhere: its file and its description together
    (the same weights read with another mean/std or mapping are another model)."""
    return hashlib.sha256(f"{file_sha256}\n{description.sha256}".encode()).hexdigest()


def to_probabilities(outputs: np.ndarray, kind: str) -> np.ndarray:
    """The network's outputs as class probabilities: softmax of logits (stable), or the
    probabilities as given (negatives from rounding clipped to 0). A single output column is a
    binary model's score of its second class: the sigmoid of a logit, or a probability; the
    first class gets the rest."""
    values = np.asarray(outputs, dtype=np.float64)
    if values.ndim == 2 and values.shape[1] == 1:
        if kind == "logits":
            score = 0.5 * (1.0 + np.tanh(0.5 * values))  # the sigmoid, without overflow
        else:
            score = np.clip(values, 0.0, 1.0)
        return np.concatenate([1.0 - score, score], axis=1)
    if kind == "logits":
        shifted = values - values.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=1, keepdims=True)
    return np.clip(values, 0.0, None)
