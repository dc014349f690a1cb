"""Models trained elsewhere: an ONNX export and the timm state_dict it came from give the same
probabilities on real images; descriptions that do not fit their file are refused by field."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from classifier.architectures import cam_layer
from classifier.explain import grad_cam
from classifier.external.description import (
    DescriptionError,
    description_from_dict,
    to_probabilities,
)
from classifier.external.onnx_runner import OnnxPredictor
from classifier.external.timm_model import timm_predictor
from classifier.taxonomy import load_taxonomy
from tests.support.algorithms import (
    TIMM_ARCH,
    description,
    export_onnx,
    nhwc_probability_graph,
    save_state_dict,
    timm_network,
)
from tests.support.cases import ham10000_rows
from tests.support.env import shared_data

TRAINING = load_taxonomy().training_classes


def real_images(n: int) -> list[Image.Image]:
    folder = shared_data("ham10000", "images")
    images = []
    for row in ham10000_rows()[:n]:
        with Image.open(folder / f"{row['image_id']}.jpg") as image:
            images.append(image.convert("RGB"))
    return images


def parsed(**changes):
    return description_from_dict(description(**changes), training_classes=TRAINING)


def test_an_onnx_export_of_a_timm_model_gives_the_pytorch_probabilities(tmp_path) -> None:
    network = timm_network()
    weights = save_state_dict(network, tmp_path / "net.pth")
    onnx_file = export_onnx(network, tmp_path / "net.onnx")
    model_description = parsed()
    native = timm_predictor(
        TIMM_ARCH,
        weights,
        model_description,
        TRAINING,
        taxonomy_version="1",
        device="cpu",
        precision="fp32",
    )
    onnx_model = OnnxPredictor(onnx_file, model_description, TRAINING, device="cpu")
    images = real_images(10)
    from_torch = native.predict_images(images).fine
    from_onnx = onnx_model.predict_images(images, batch_size=4).fine
    np.testing.assert_allclose(from_onnx, from_torch, atol=1e-4)
    # Outputs go to their taxonomy class; "other" (mapped to null) goes nowhere.
    assert from_onnx[:, TRAINING.index("bcc")].max() == 0.0
    assert (from_onnx[:, TRAINING.index("mel")] + from_onnx[:, TRAINING.index("nv")] < 1).all()
    assert from_onnx[:, TRAINING.index("mel")].std() > 0.01, "the images are told apart"
    # The timm model keeps what t-SNE and Grad-CAM need.
    assert native.predict(native.transform(images[0])[None], features=True).features is not None
    assert cam_layer(native.network) is not None
    cams = [grad_cam(native, image) for image in images[:4]]
    assert all(
        cam.shape == (image.height, image.width)
        for cam, image in zip(cams, images[:4], strict=True)
    )
    assert max(float(cam.max()) for cam in cams) == pytest.approx(1.0), "some evidence is shown"


def test_nhwc_bgr_stretch_and_probability_outputs_are_read_as_described(tmp_path) -> None:
    weights = np.asarray([[3.0, -1.0], [0.0, 2.0], [-4.0, 1.0]])  # channels in model order
    graph = nhwc_probability_graph(tmp_path / "nhwc.onnx", weights)
    model_description = parsed(
        layout="NHWC",
        channel_order="BGR",
        resize="stretch",
        mean=[0.5, 0.4, 0.3],
        std=[0.2, 0.25, 0.3],
        class_names=["malignant", "benign"],
        outputs="probabilities",
        taxonomy_mapping={"malignant": "mel", "benign": "nv"},
    )
    model = OnnxPredictor(graph, model_description, TRAINING, device="cpu")
    image = real_images(1)[0]
    stretched = np.asarray(image.resize((128, 96), Image.Resampling.BILINEAR, reducing_gap=None))
    bgr = stretched[..., ::-1].astype(np.float64) / 255.0
    pooled = ((bgr - [0.5, 0.4, 0.3]) / [0.2, 0.25, 0.3]).mean(axis=(0, 1))
    expected = to_probabilities((pooled @ weights)[None], "logits")[0]
    fine = model.predict(model.transform(image)[None]).fine[0]
    assert fine[TRAINING.index("mel")] == pytest.approx(expected[0], abs=1e-5)
    assert fine[TRAINING.index("nv")] == pytest.approx(expected[1], abs=1e-5)


@pytest.mark.parametrize(("final", "outputs"), [("Sigmoid", "probabilities"), (None, "logits")])
def test_a_single_output_model_scores_its_second_class_and_gives_the_first_the_rest(
    tmp_path, final, outputs
) -> None:
    weights = np.asarray([[3.0], [-2.0], [1.0]])  # one output: the melanoma logit
    graph = nhwc_probability_graph(tmp_path / "sigmoid.onnx", weights, final=final)
    model_description = parsed(
        layout="NHWC",
        class_names=["nevus", "melanoma"],
        outputs=outputs,
        taxonomy_mapping={"nevus": "nv", "melanoma": "mel"},
    )
    model = OnnxPredictor(graph, model_description, TRAINING, device="cpu")
    images = real_images(4)
    fine = model.predict(np.stack([model.transform(image) for image in images])).fine
    for image, row in zip(images, fine, strict=True):
        covered = np.asarray(model.transform(image), dtype=np.float64)
        logit = covered.mean(axis=(0, 1)) @ weights[:, 0]
        melanoma = 1.0 / (1.0 + np.exp(-logit))
        assert row[TRAINING.index("mel")] == pytest.approx(melanoma, abs=1e-5)
        assert row[TRAINING.index("nv")] == pytest.approx(1.0 - melanoma, abs=1e-5)
    assert len({round(float(row[TRAINING.index("mel")]), 6) for row in fine}) == 4


def test_a_description_with_one_class_is_refused_as_always_certain() -> None:
    with pytest.raises(DescriptionError, match=r"^class_names: one class alone"):
        parsed(class_names=["melanoma"], taxonomy_mapping={"melanoma": "mel"})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"input_size": [224, 224]}, "input_size"),
        ({"layout": "NHWC"}, "layout"),
        (
            {
                "class_names": ["melanoma", "nevus"],
                "taxonomy_mapping": {"melanoma": "mel", "nevus": "nv"},
            },
            "class_names",
        ),
    ],
)
def test_an_onnx_model_whose_description_does_not_fit_is_refused_naming_the_field(
    tmp_path, changes, field
) -> None:
    onnx_file = export_onnx(timm_network(), tmp_path / "net.onnx")
    with pytest.raises(DescriptionError) as refused:
        OnnxPredictor(onnx_file, parsed(**changes), TRAINING, device="cpu")
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"taxonomy_mapping": {"melanoma": "melanoma", "nevus": "nv", "other": None}},
            "taxonomy_mapping",
        ),
        ({"taxonomy_mapping": {"melanoma": "mel", "nevus": "nv"}}, "taxonomy_mapping"),
        ({"mean": [0.5, 0.5]}, "mean"),
        ({"std": [0.5, 0.0, 0.5]}, "std"),
        ({"resize": "pad"}, "resize"),
        ({"outputs": "scores"}, "outputs"),
        ({"input_size": [224]}, "input_size"),
        ({"colour": "yes"}, "colour"),
    ],
)
def test_an_inconsistent_description_is_refused_naming_the_field(changes, field) -> None:
    with pytest.raises(DescriptionError) as refused:
        parsed(**changes)
    assert refused.value.field == field


def test_a_missing_field_is_named() -> None:
    data = description()
    del data["channel_order"]
    with pytest.raises(DescriptionError, match=r"^channel_order: missing"):
        description_from_dict(data, training_classes=TRAINING)


def test_timm_weights_that_do_not_fit_the_description_are_refused(tmp_path) -> None:
    weights = save_state_dict(timm_network(), tmp_path / "net.pth")
    for arch, changes, field in [
        ("no_such_net", {}, "arch"),
        ("resnet18", {}, "arch"),
        (
            TIMM_ARCH,
            {
                "class_names": ["melanoma", "nevus"],
                "taxonomy_mapping": {"melanoma": "mel", "nevus": "nv"},
            },
            "class_names",
        ),
        (TIMM_ARCH, {"outputs": "probabilities"}, "outputs"),
    ]:
        with pytest.raises(DescriptionError) as refused:
            timm_predictor(
                arch, weights, parsed(**changes), TRAINING, taxonomy_version="1", device="cpu"
            )
        assert refused.value.field == field, (arch, changes)


def test_the_identity_changes_with_the_description() -> None:
    assert parsed().sha256 == parsed().sha256
    assert parsed().sha256 != parsed(mean=[0.5, 0.5, 0.5]).sha256


def test_a_saliency_map_of_a_stretched_input_covers_the_whole_image() -> None:
    from classifier.explain import _to_image_frame

    evidence = np.ones((96, 96), dtype=np.float32)
    cover = _to_image_frame(evidence, (600, 450), (96, 96))
    stretch = _to_image_frame(evidence, (600, 450), (96, 96), stretched=True)
    assert cover[:, :50].max() == 0.0, "cover crops the centre square"
    assert stretch.min() == pytest.approx(1.0), "stretch uses the whole image"
