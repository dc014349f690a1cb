"""Batched inference: training-class probabilities, inference-class sums and embeddings.

``Predictor.from_checkpoint(path)`` loads a checkpoint once; ``predict`` runs a batch under
``torch.inference_mode()`` in channels_last, with bf16 autocast on CPUs that compute bf16 in
hardware (AVX512-BF16 or AMX) and on CUDA, fp32 otherwise (or when asked). Optional test-time
augmentation averages the probabilities of the image and its three flips (``"flips"``), or of
all eight of its dihedral views, the flips and their transposes (``"dihedral"``; Perez et al.
2018, Ha et al. 2020; a lesion has no up or down, and the fully convolutional network takes
the transposed 300 x 225 input as readily as the 225 x 300 one). Each view costs one forward
pass.

The network's softmax gives one probability per output; outputs finer than the taxonomy's
training classes (``"nv:biopsied"``) are summed into their class, so ``Prediction.fine``
always has the taxonomy's training classes as columns, in ``config.class_names`` order.

Process safety: nothing here starts threads or holds global state at import. Under a prefork
server (Celery), build the predictor in each worker process after the fork, never in the
parent; the scoring worker keeps one per process and model (``readerstudy.scoring.inference``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from classifier.architectures import forward_with_features
from classifier.checkpoint import ModelConfig, build_network, file_sha256, load_checkpoint
from classifier.clinical import ClinicalInfo
from classifier.taxonomy import Taxonomy
from classifier.transforms import eval_transform

PRECISIONS = ("fp32", "bf16", "fp16")
TTA_MODES = ("none", "flips", "dihedral")


def tta_mode(tta: bool | str) -> str:
    """``True`` is ``"flips"`` (the option's first meaning), ``False`` is ``"none"``."""
    mode = {True: "flips", False: "none"}.get(tta, tta) if isinstance(tta, bool) else tta
    if mode not in TTA_MODES:
        raise ValueError(f"tta must be one of {TTA_MODES}, not {tta!r}")
    return mode


def tta_views(x: torch.Tensor, mode: str) -> list[torch.Tensor]:
    """The views of a batch (N, C, H, W) that test-time augmentation averages over."""
    if mode == "none":
        return [x]
    flips = [x, x.flip(3), x.flip(2), x.flip(2, 3)]
    if mode == "flips":
        return flips
    return flips + [view.transpose(2, 3) for view in flips]


@dataclass(frozen=True)
class Prediction:
    """Per-image probabilities of the training classes (rows sum to 1) and, when asked, the
    pooled penultimate-layer feature vectors from the same forward pass."""

    fine: np.ndarray  # (n, n_classes) float64
    class_names: tuple[str, ...]
    features: np.ndarray | None = None  # (n, D) float32

    def inference(self, taxonomy: Taxonomy) -> dict[str, np.ndarray]:
        """P(u) = sum over v in C(u) of P(v) per inference class u (Esteva et al. 2017)."""
        return taxonomy.inference_probabilities(self._in_taxonomy_order(taxonomy))

    def task_probability(self, taxonomy: Taxonomy, task: str) -> np.ndarray:
        """P(positive | task) = P(pos) / (P(pos) + P(neg)); see classifier.taxonomy."""
        return taxonomy.task_probability(self._in_taxonomy_order(taxonomy), taxonomy.task(task))

    def _in_taxonomy_order(self, taxonomy: Taxonomy) -> np.ndarray:
        if self.class_names == taxonomy.training_classes:
            return self.fine
        missing = set(taxonomy.training_classes) - set(self.class_names)
        if missing:
            raise ValueError(f"model has no output for training classes {sorted(missing)}")
        index = [self.class_names.index(c) for c in taxonomy.training_classes]
        return self.fine[:, index]


def cpu_supports_bf16() -> bool:
    """True when the CPU computes bf16 in hardware (AVX512-BF16 or AMX-BF16). Without them
    PyTorch emulates bf16 and is slower than fp32 (measured in bench/classifier.py)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool({"avx512_bf16", "amx_bf16"} & flags)
    except OSError:
        pass
    return False


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_precision(precision: str, device: torch.device) -> str:
    """ "auto": bf16 on CUDA with bf16 support (else fp16) and on CPUs with hardware bf16,
    fp32 otherwise."""
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if cpu_supports_bf16() else "fp32"
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be auto or one of {PRECISIONS}, not {precision!r}")
    if precision == "fp16" and device.type == "cpu":
        raise ValueError("fp16 autocast is for CUDA; use bf16 or fp32 on a CPU")
    return precision


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[object]:
    """Autocast for a precision ("fp32": none)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def output_to_class_matrix(config: ModelConfig) -> torch.Tensor:
    """(outputs x classes) 0/1 matrix that sums each output into its training class."""
    matrix = torch.zeros(config.num_outputs, len(config.class_names))
    for row, output in enumerate(config.output_classes):
        matrix[row, config.class_names.index(config.output_parent(output))] = 1.0
    return matrix


class Predictor:
    """A loaded model ready to score images (timm-style inference wrapper)."""

    def __init__(
        self,
        network: torch.nn.Module,
        config: ModelConfig,
        *,
        device: str | torch.device = "auto",
        precision: str = "auto",
        tta: bool | str = False,
        sha256: str = "",
        output_matrix: torch.Tensor | None = None,
        transform: Callable[[Image.Image], torch.Tensor] | None = None,
        resize: str = "cover",
    ) -> None:
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.config = config
        self.tta = tta_mode(tta)
        self.sha256 = sha256
        self.network = network.eval().to(self.device).to(memory_format=torch.channels_last)
        # A model trained elsewhere brings its own output -> class mapping and preprocessing
        # (classifier.external.timm_model); a native one derives both from its config.
        matrix = output_to_class_matrix(config) if output_matrix is None else output_matrix
        self.output_matrix = matrix.float().to(self.device)
        self._transform = transform or eval_transform(config)
        # How the transform fits an image to the input ("cover" or "stretch"): Grad-CAM maps
        # are put back where the input came from.
        self.resize = resize

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | torch.device = "auto",
        precision: str = "auto",
        tta: bool | str = False,
    ) -> Predictor:
        """Load a checkpoint (see classifier.checkpoint); raises CheckpointError for a bad
        file."""
        checkpoint = load_checkpoint(path)
        return cls(
            build_network(checkpoint),
            checkpoint.config,
            device=device,
            precision=precision,
            tta=tta,
            sha256=file_sha256(path),
        )

    def transform(self, image: Image.Image) -> torch.Tensor:
        """The eval preset: a normalised CHW float tensor at the model's input size."""
        return self._transform(image)

    @property
    def uses_metadata(self) -> bool:
        """The model weighs the patient's details (``classifier.clinical``) beside the image:
        every prediction needs them."""
        return self.config.metadata is not None

    def predict(
        self,
        batch: torch.Tensor,
        *,
        features: bool = False,
        metadata: Sequence[ClinicalInfo] | None = None,
    ) -> Prediction:
        """Class probabilities for a batch (N, 3, H, W) of transformed images; ``metadata``
        holds each image's patient for a model that reads them (and is ignored otherwise:
        an image-only model never sees them)."""
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"expected a batch of shape (N, 3, H, W), got {tuple(batch.shape)}")
        head = self.config.metadata
        if head is not None and (metadata is None or len(metadata) != len(batch)):
            raise ValueError(
                "this model weighs the patient's age and sex beside the image: give one "
                f"ClinicalInfo per image ({len(batch)} images, "
                f"{'none' if metadata is None else len(metadata)} given)"
            )
        x = batch.to(self.device, dtype=torch.float32).contiguous(memory_format=torch.channels_last)
        views = tta_views(x, self.tta)
        probabilities = torch.zeros(len(x), self.config.num_outputs, device=self.device)
        pooled: torch.Tensor | None = None
        with torch.inference_mode(), autocast(self.device, self.precision):
            for view in views:
                logits, vector = forward_with_features(self.network, view)
                probabilities += torch.softmax(logits.float(), dim=1)
                if features:
                    pooled = vector.float() if pooled is None else pooled + vector.float()
        fine = ((probabilities / len(views)) @ self.output_matrix).cpu().double().numpy()
        if head is not None and metadata is not None:
            fine = head.apply(fine, metadata)
        vectors = None
        if features and pooled is not None:
            vectors = (pooled / len(views)).cpu().numpy().astype(np.float32)
        return Prediction(fine=fine, class_names=self.config.class_names, features=vectors)

    def predict_images(
        self,
        images: Sequence[Image.Image],
        *,
        batch_size: int = 32,
        features: bool = False,
        metadata: Sequence[ClinicalInfo] | None = None,
    ) -> Prediction:
        """Transform and score PIL images in batches (``metadata``: as ``predict``)."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if metadata is not None and len(metadata) != len(images):
            raise ValueError(f"{len(metadata)} patients' details for {len(images)} images")
        parts = [
            self.predict(
                torch.stack([self.transform(im) for im in images[start : start + batch_size]]),
                features=features,
                metadata=None if metadata is None else metadata[start : start + batch_size],
            )
            for start in range(0, len(images), batch_size)
        ]
        if not parts:
            empty = np.zeros((0, len(self.config.class_names)))
            return Prediction(empty, self.config.class_names, None)
        fine = np.concatenate([p.fine for p in parts])
        vectors = None
        if features:
            vectors = np.concatenate([p.features for p in parts if p.features is not None])
        return Prediction(fine, self.config.class_names, vectors)
