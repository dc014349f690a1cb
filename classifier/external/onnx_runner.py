"""ONNX models run by onnxruntime: a model trained in PyTorch, TensorFlow or Keras and
exported to ONNX, read with its JSON description (classifier.external.description).

``OnnxPredictor`` mirrors ``classifier.predictor.Predictor``: ``transform(image)`` gives one
input, ``predict(batch)`` the training-class probabilities of a batch (``fine``, columns in
the taxonomy's order). It needs numpy, Pillow and onnxruntime only, never torch. CUDA is used
when the installed onnxruntime offers it (the ``onnxruntime-gpu`` wheel) and the device asks
for it; the CPU otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from classifier.external.description import DescriptionError, ModelDescription, to_probabilities


@dataclass(frozen=True)
class OnnxPrediction:
    fine: np.ndarray  # (n, n_training_classes) float64
    class_names: tuple[str, ...]
    features: np.ndarray | None = None  # an ONNX graph exposes no penultimate layer


def _providers(device: str) -> list[str]:
    import onnxruntime  # loaded only where an ONNX model runs

    available = onnxruntime.get_available_providers()
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise RuntimeError(
            "CUDA was asked for, but this onnxruntime offers " + ", ".join(available)
        )
    return ["CPUExecutionProvider"]


def _dimension(value: Any) -> int | None:
    """A fixed dimension of an ONNX shape, or None for a symbolic one ("N", None)."""
    return value if isinstance(value, int) and value > 0 else None


class OnnxPredictor:
    """An ONNX model with its description, ready to score images."""

    def __init__(
        self,
        model: str | Path | bytes,
        description: ModelDescription,
        training_classes: Sequence[str],
        *,
        device: str = "auto",
        threads: int = 0,
        sha256: str = "",
    ) -> None:
        import onnxruntime  # loaded only where an ONNX model runs

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        source = model if isinstance(model, bytes) else str(model)
        try:
            self.session = onnxruntime.InferenceSession(
                source, options, providers=_providers(device)
            )
        except Exception as error:  # noqa: BLE001 (onnxruntime raises its own types for a bad file)
            first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise DescriptionError("(file)", f"not a model onnxruntime can load: {first}") from None
        self.description = description
        self.class_names = tuple(training_classes)
        self.sha256 = sha256
        self.device = "cuda" if "CUDA" in self.session.get_providers()[0] else "cpu"
        self.precision = "onnx"
        self._to_classes = description.class_matrix(training_classes).astype(np.float64)
        self._input = self._check_input()
        self._fixed_batch = _dimension(self._input.shape[0])
        self._check_output()

    def _check_input(self) -> Any:
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise DescriptionError(
                "(file)", f"the model has {len(inputs)} inputs; an image classifier has one"
            )
        shape = list(inputs[0].shape)
        expected = self.description.input_shape()
        if len(shape) != 4:
            raise DescriptionError(
                "layout", f"the model's input has shape {shape}, not a batch of images {expected}"
            )
        channel_axis = 1 if self.description.layout == "NCHW" else 3
        if _dimension(shape[channel_axis]) not in (None, 3):
            raise DescriptionError(
                "layout",
                f"the model's input has shape {shape}; with layout {self.description.layout} "
                f"the description expects {list(expected)}",
            )
        spatial = [shape[a] for a in ((2, 3) if channel_axis == 1 else (1, 2))]
        for axis, (actual, wanted) in enumerate(
            zip(spatial, self.description.input_size, strict=True)
        ):
            if _dimension(actual) not in (None, wanted):
                side = "height" if axis == 0 else "width"
                raise DescriptionError(
                    "input_size",
                    f"the model's input has shape {shape}: {side} {actual}, but the description "
                    f"says {list(self.description.input_size)}",
                )
        return inputs[0]

    def _check_output(self) -> None:
        """Run one blank image: the output must have one value per described class, or a
        single value for a model that names two (a binary model's sigmoid)."""
        blank = np.zeros(tuple(int(d) for d in self.description.input_shape(1)), dtype=np.float32)
        try:
            output = self._run(blank)
        except Exception as error:  # noqa: BLE001 (onnxruntime's own error types)
            first = str(error).strip().splitlines()[0]
            raise DescriptionError(
                "input_size", f"the model does not run on an input of {list(blank.shape)}: {first}"
            ) from None
        classes = len(self.description.class_names)
        if output.ndim != 2 or output.shape[1] not in ({classes, 1} if classes == 2 else {classes}):
            raise DescriptionError(
                "class_names",
                f"the model gives outputs of shape {list(output.shape)}, but the description "
                f"names {len(self.description.class_names)} classes",
            )

    def _run(self, batch: np.ndarray) -> np.ndarray:
        size = self._fixed_batch
        if size is None or len(batch) == size:
            return np.asarray(self.session.run(None, {self._input.name: batch})[0])
        # A graph exported with a fixed batch size: feed it that many at a time, padded.
        parts = []
        for start in range(0, len(batch), size):
            chunk = batch[start : start + size]
            padded = np.concatenate(
                [chunk, np.zeros((size - len(chunk), *chunk.shape[1:]), chunk.dtype)]
            )
            parts.append(
                np.asarray(self.session.run(None, {self._input.name: padded})[0])[: len(chunk)]
            )
        return np.concatenate(parts)

    def transform(self, image: Image.Image) -> np.ndarray:
        """The description's preprocessing: one float32 input without the batch axis."""
        return self.description.preprocess(image)

    def predict(self, batch: np.ndarray, *, features: bool = False) -> OnnxPrediction:
        """Training-class probabilities of a batch of transformed images; outputs mapped to
        one class are summed (``features`` is accepted for the Predictor's interface; an ONNX
        graph has none to give)."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        probabilities = to_probabilities(self._run(batch), self.description.outputs)
        return OnnxPrediction(fine=probabilities @ self._to_classes, class_names=self.class_names)

    def predict_images(
        self, images: Sequence[Image.Image], *, batch_size: int = 32
    ) -> OnnxPrediction:
        parts = [
            self.predict(
                np.stack([self.transform(image) for image in images[start : start + batch_size]])
            ).fine
            for start in range(0, len(images), batch_size)
        ]
        fine = np.concatenate(parts) if parts else np.zeros((0, len(self.class_names)))
        return OnnxPrediction(fine=fine, class_names=self.class_names)
