"""Any timm architecture from a state_dict file, read with its JSON description.

``timm_predictor(arch, path, description, training_classes)`` builds
``timm.create_model(arch, pretrained=False, num_classes=len(class_names))`` (nothing is
downloaded), loads the weights (``torch.load(weights_only=True)``: no pickled code runs) and
wraps it in this project's ``Predictor``, with the description's preprocessing and its mapping
of outputs onto the taxonomy. Embeddings (t-SNE) and Grad-CAM work as for the native models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from PIL import Image

from classifier.architectures import ModelError, forward_with_features
from classifier.checkpoint import ModelConfig
from classifier.external.description import DescriptionError, ModelDescription
from classifier.predictor import Predictor


def _state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 (torch raises many types for a foreign file)
        first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise DescriptionError("(file)", f"not a PyTorch state_dict: {first[:200]}") from None
    # Training scripts often save {"state_dict": ...} or a DataParallel's "module." names.
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise DescriptionError("(file)", "not a state_dict of tensors")
    return {
        k.removeprefix("module."): v.float() if v.is_floating_point() else v
        for k, v in state.items()
    }


def build_timm_network(arch: str, path: Path, description: ModelDescription) -> torch.nn.Module:
    """The timm network ``arch`` with the weights at ``path``, in eval mode."""
    import timm  # slow to import; loaded only where a timm model is scored

    if not timm.is_model(arch):
        raise DescriptionError(
            "arch", f"{arch!r} is not a timm architecture (timm {timm.__version__})"
        )
    if description.layout != "NCHW":
        raise DescriptionError("layout", "a timm network takes NCHW input")
    if description.outputs != "logits":
        raise DescriptionError("outputs", "a timm network's classifier gives logits")
    n_classes = len(description.class_names)
    network = timm.create_model(arch, pretrained=False, num_classes=n_classes)
    state = _state_dict(path)
    head = network.get_classifier()  # type: ignore[operator]
    head_weight = next((f"{n}.weight" for n, m in network.named_modules() if m is head), None)
    if head_weight in state and state[head_weight].shape[0] != n_classes:
        raise DescriptionError(
            "class_names",
            f"the weights have {state[head_weight].shape[0]} outputs, but the description "
            f"names {n_classes} classes",
        )
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise DescriptionError("arch", f"the weights do not fit {arch}: {first}") from None
    return network.eval()


def timm_predictor(
    arch: str,
    path: str | Path,
    description: ModelDescription,
    training_classes: Sequence[str],
    *,
    taxonomy_version: str,
    device: str = "auto",
    precision: str = "auto",
    sha256: str = "",
) -> Predictor:
    """A Predictor for a timm network brought with its description; raises DescriptionError
    (naming the field) when the description does not fit the weights."""
    network = build_timm_network(arch, Path(path), description)
    config = ModelConfig(
        arch=arch,
        input_size=description.input_size,
        mean=description.mean,
        std=description.std,
        class_names=tuple(training_classes),
        taxonomy_version=taxonomy_version,
        output_classes=description.class_names,
    )

    def transform(image: Image.Image) -> torch.Tensor:
        return torch.from_numpy(description.preprocess(image))

    predictor = Predictor(
        network,
        config,
        device=device,
        precision=precision,
        sha256=sha256,
        output_matrix=torch.from_numpy(description.class_matrix(training_classes)),
        transform=transform,
        resize=description.resize,
    )
    blank = torch.zeros(1, 3, *description.input_size)
    try:
        with torch.inference_mode():
            forward_with_features(network, blank.to(predictor.device))
    except (RuntimeError, ModelError, AssertionError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise DescriptionError(
            "input_size", f"{arch} does not run on an input of {list(blank.shape)}: {first}"
        ) from None
    return predictor
