"""The model factory: forward shapes, and the offline ImageNet weights mapped onto timm."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from classifier.architectures import (
    ModelError,
    build_model,
    cam_layer,
    forward_with_features,
    imagenet_weights_path,
    lite_key_map,
)
from tests.classifier.efficientnet_lite_reference import EfficientNetLite

LITES = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
EGYPTIAN_CAT, TABBY, TIGER_CAT, ESPRESSO = 285, 281, 282, 967


@pytest.mark.parametrize(
    ("arch", "size"),
    [(a, (150, 200)) for a in LITES] + [("inception_v3", (299, 299))],
)
def test_forward_gives_logits_and_pooled_features_without_nan(
    arch: str, size: tuple[int, int]
) -> None:
    torch.manual_seed(0)
    model = build_model(arch, num_classes=7).eval()
    x = torch.randn(2, 3, *size)
    with torch.inference_mode():
        logits, features = forward_with_features(model, x)
        plain = model(x)
    width = 2048 if arch == "inception_v3" else 1280
    assert logits.shape == (2, 7)
    assert features.shape == (2, width)
    assert torch.isfinite(logits).all() and torch.isfinite(features).all()
    torch.testing.assert_close(logits, plain)


def test_cam_layer_yields_the_last_feature_map() -> None:
    model = build_model("efficientnet_lite0", num_classes=7).eval()
    seen = []
    cam_layer(model).register_forward_hook(lambda _m, _i, out: seen.append(out.shape))
    with torch.inference_mode():
        model(torch.zeros(1, 3, 150, 200))
    assert seen == [torch.Size([1, 1280, 5, 7])]


@pytest.mark.parametrize("arch", LITES)
def test_lite_key_map_is_one_to_one_onto_timm(arch: str) -> None:
    original = torch.load(imagenet_weights_path(arch), map_location="cpu", weights_only=True)
    model = build_model(arch, num_classes=1000)
    mapped = [lite_key_map(model, key) for key in original]
    assert len(set(mapped)) == len(original)
    assert set(mapped) == set(model.state_dict())
    own = model.state_dict()
    for key, target in zip(original, mapped, strict=True):
        assert original[key].shape == own[target].shape, (key, target)


def test_unknown_lite_key_is_refused() -> None:
    model = build_model("efficientnet_lite0", num_classes=1000)
    with pytest.raises(ModelError, match="past the last block"):
        lite_key_map(model, "_blocks.99._bn1.weight")


def _imagenet_input(array: np.ndarray, size: int) -> torch.Tensor:
    image = Image.fromarray(array).resize((size, size), Image.Resampling.BILINEAR)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32).copy()) / 255.0
    return ((x - 0.5) / 0.5).permute(2, 0, 1)[None]


@pytest.mark.parametrize(("variant", "size"), [(0, 224), (1, 240), (2, 260)])
def test_mapped_weights_give_the_original_networks_imagenet_logits(variant: int, size: int) -> None:
    """The package's .pth in the original key naming, loaded strictly into a reference
    implementation of the original network, and the same file mapped onto timm: the logits on
    real photos agree to 1e-4 and name the right things."""
    arch = f"efficientnet_lite{variant}"
    reference = EfficientNetLite(variant).eval()
    state = torch.load(imagenet_weights_path(arch), map_location="cpu", weights_only=True)
    reference.load_state_dict(state, strict=True)
    ours = build_model(arch, num_classes=1000, pretrained=True).eval()
    photos = torch.cat(
        [
            _imagenet_input(skimage.data.chelsea(), size),
            _imagenet_input(skimage.data.coffee(), size),
        ]
    )
    with torch.inference_mode():
        expected = reference(photos)
        got = ours(photos)
    assert (got - expected).abs().max().item() < 1e-4
    top = got.argmax(dim=1).tolist()
    assert top[0] in (EGYPTIAN_CAT, TABBY, TIGER_CAT)
    assert top[1] == ESPRESSO


def test_pretrained_head_starts_at_uniform_probabilities() -> None:
    model = build_model("efficientnet_lite0", num_classes=8, pretrained=True).eval()
    with torch.inference_mode():
        p = torch.softmax(model(torch.randn(1, 3, 150, 200)), dim=1)
    torch.testing.assert_close(p, torch.full((1, 8), 1 / 8))


def test_inception_has_no_offline_weights_and_says_so() -> None:
    with pytest.raises(ModelError, match="no offline ImageNet weights"):
        build_model("inception_v3", num_classes=7, pretrained=True)


def test_inception_loads_a_user_given_torchvision_weights_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    source = inception_v3(weights=None, aux_logits=True, init_weights=True)
    path = tmp_path / "inception_v3_imagenet.pth"
    torch.save(source.state_dict(), path)
    model = build_model("inception_v3", num_classes=7, pretrained=path)
    torch.testing.assert_close(model.Conv2d_1a_3x3.conv.weight, source.Conv2d_1a_3x3.conv.weight)
    assert model.fc.out_features == 7


def test_unknown_architecture_is_refused() -> None:
    with pytest.raises(ModelError, match="unknown architecture"):
        build_model("resnet50", num_classes=7)
