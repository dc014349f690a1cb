"""The checkpoint file: one ``torch.save`` file that is a model's whole identity.

It holds the weights (one state_dict per ensemble member; fp16 in shipped files), the model
config (architecture, input size, mean/std, class names, taxonomy version), a summary of the
training data, the split seed and the metrics measured at the end of training. The file's
sha256 identifies the model: the study platform records it with every CNN score.

The file holds only tensors and plain Python values, so it loads with
``torch.load(weights_only=True)``: opening an uploaded checkpoint runs no pickled code.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from classifier.architectures import Ensemble, ModelError, build_model
from classifier.clinical import HeadError, MetadataHead
from classifier.imaging import check_preprocess

FORMAT = "readerstudy-classifier"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a valid classifier checkpoint."""


@dataclass(frozen=True)
class ModelConfig:
    """What a prediction needs besides the weights (timm's pretrained_cfg, made explicit).

    ``class_names`` are the taxonomy's training classes, the columns of every prediction.
    ``output_classes`` are the network's outputs when they are finer than that: an output
    named ``"nv:biopsied"`` is a sub-class of ``nv``, and its probability is summed into
    ``nv`` (the taxonomy rule P(u) = sum of P(v) over the children v of u, one level down).
    ``members`` lists the architecture of each member of an ensemble (one entry when single).
    ``source_size`` is the scale of the training images (height, width): a larger image is
    first brought down to it (``classifier.imaging.fit_to_source``), in training and in every
    prediction alike. None (checkpoints written before it existed): images go straight to the
    input size.
    ``metadata`` is the head that weighs the patient's age and sex beside the image
    (``classifier.clinical``), for a model that reads them; None for an image-only model.
    ``preprocess`` names the steps (``classifier.imaging.PREPROCESS_STEPS``) that training and
    every prediction apply after that, in order; a file naming a step this program does not
    know is refused rather than scored without it.
    """

    arch: str
    input_size: tuple[int, int]  # (height, width)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    class_names: tuple[str, ...]
    taxonomy_version: str
    output_classes: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    source_size: tuple[int, int] | None = None
    preprocess: tuple[str, ...] = ()
    metadata: MetadataHead | None = None

    def __post_init__(self) -> None:
        if not self.output_classes:
            object.__setattr__(self, "output_classes", tuple(self.class_names))
        if not self.members:
            object.__setattr__(self, "members", (self.arch,))

    @property
    def num_outputs(self) -> int:
        return len(self.output_classes)

    def output_parent(self, output: str) -> str:
        """The training class an output counts towards (``"nv:biopsied"`` -> ``"nv"``)."""
        return output.split(":", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        data["metadata"] = None if self.metadata is None else self.metadata.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        try:
            config = cls(
                arch=str(data["arch"]),
                input_size=_pair(data["input_size"]),
                mean=_triple(data["mean"]),
                std=_triple(data["std"]),
                class_names=tuple(str(c) for c in data["class_names"]),
                taxonomy_version=str(data["taxonomy_version"]),
                output_classes=tuple(str(c) for c in data.get("output_classes", ())),
                members=tuple(str(a) for a in data.get("members", ())),
                source_size=(
                    None if data.get("source_size") is None else _pair(data["source_size"])
                ),
                preprocess=check_preprocess([str(s) for s in data.get("preprocess", ())]),
                metadata=(
                    None
                    if data.get("metadata") is None
                    else MetadataHead.from_dict(data["metadata"], len(data["class_names"]))
                ),
            )
        except HeadError as error:
            raise CheckpointError(str(error)) from None
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"invalid model config: {error!r}") from None
        unknown = [
            o for o in config.output_classes if config.output_parent(o) not in config.class_names
        ]
        if unknown:
            raise CheckpointError(f"outputs {unknown} belong to no class in {config.class_names}")
        return config


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    height, width = (int(v) for v in value)
    if height <= 0 or width <= 0:
        raise ValueError(f"input size {value!r}")
    return (height, width)


def _triple(value: Any) -> tuple[float, float, float]:
    a, b, c = (float(v) for v in value)
    return (a, b, c)


@dataclass
class Checkpoint:
    config: ModelConfig
    state_dicts: list[dict[str, torch.Tensor]]
    metrics: dict[str, Any] = field(default_factory=dict)
    data_summary: dict[str, Any] = field(default_factory=dict)
    split_seed: int = 0
    name: str = ""
    recipe: dict[str, Any] = field(default_factory=dict)

    @property
    def state_dict(self) -> dict[str, torch.Tensor]:
        """The weights of a single model (the first member of an ensemble)."""
        return self.state_dicts[0]


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file: the identity of a checkpoint."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_checkpoint(checkpoint: Checkpoint, path: str | Path, *, half: bool = False) -> str:
    """Write ``checkpoint`` to ``path`` (fp16 floating weights when ``half``); returns its
    sha256. The write goes through a temporary file so a crash never leaves half a model."""

    def weights(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {}
        for key, tensor in state.items():
            tensor = tensor.detach().cpu()
            if half and tensor.is_floating_point():
                tensor = tensor.half()
            out[key] = tensor.contiguous().clone()
        return out

    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": checkpoint.name,
        "config": checkpoint.config.to_dict(),
        "state_dicts": [weights(s) for s in checkpoint.state_dicts],
        "metrics": checkpoint.metrics,
        "data_summary": checkpoint.data_summary,
        "split_seed": int(checkpoint.split_seed),
        "recipe": checkpoint.recipe,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)
    return file_sha256(path)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint; raises CheckpointError with a clear message for a file
    that is missing, not a torch file, from another program, or inconsistent."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read: {error.strerror or error}") from None
    try:
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    # A damaged or foreign file makes torch raise almost anything (UnpicklingError,
    # RuntimeError, EOFError, zipfile errors ...); all of them mean "not a checkpoint".
    except Exception as error:  # noqa: BLE001
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({first[:200]})") from None
    return checkpoint_from_payload(payload, source=str(path))


def checkpoint_from_payload(payload: Any, *, source: str = "checkpoint") -> Checkpoint:
    """Validate the object a checkpoint file holds."""
    if not isinstance(payload, Mapping) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{source}: not a readerstudy classifier checkpoint (no format={FORMAT!r} marker)"
        )
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{source}: unsupported checkpoint format version {version!r}")
    if not isinstance(payload.get("config"), Mapping):
        raise CheckpointError(f"{source}: missing model config")
    try:
        config = ModelConfig.from_dict(payload["config"])
    except CheckpointError as error:
        raise CheckpointError(f"{source}: {error}") from None
    states = payload.get("state_dicts")
    if not isinstance(states, Sequence) or not states:
        raise CheckpointError(f"{source}: no weights")
    if len(states) != len(config.members):
        raise CheckpointError(
            f"{source}: {len(states)} weight sets for {len(config.members)} ensemble members"
        )
    for state in states:
        if not isinstance(state, Mapping) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
        ):
            raise CheckpointError(f"{source}: weights are not a state_dict of tensors")
    return Checkpoint(
        config=config,
        state_dicts=[dict(s) for s in states],
        metrics=dict(payload.get("metrics") or {}),
        data_summary=dict(payload.get("data_summary") or {}),
        split_seed=int(payload.get("split_seed", 0)),
        name=str(payload.get("name", "")),
        recipe=dict(payload.get("recipe") or {}),
    )


def build_network(checkpoint: Checkpoint) -> torch.nn.Module:
    """The network a checkpoint describes, weights loaded in fp32, in eval mode; raises
    CheckpointError when the weights do not fit the architecture."""
    config = checkpoint.config
    members = []
    for arch, state in zip(config.members, checkpoint.state_dicts, strict=True):
        try:
            model = build_model(arch, config.num_outputs)
        except ModelError as error:
            raise CheckpointError(str(error)) from None
        try:
            model.load_state_dict(
                {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
            )
        except RuntimeError as error:
            first = str(error).splitlines()[0]
            raise CheckpointError(f"weights do not fit {arch}: {first}") from None
        members.append(model)
    network = members[0] if len(members) == 1 else Ensemble(members)
    return network.eval()
