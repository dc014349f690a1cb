"""``--augment-on device`` draws the loader's augmentations: the same flips, turns, rotation,
lesion-guided crop, colour jitter, blur and cutout from the same seed, on images decoded once;
the pixels differ only by interpolation and rounding. Compared on real HAM10000 images."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from classifier import DEFAULT_CHECKPOINT, train
from classifier.checkpoint import load_checkpoint
from classifier.data import Case, load_image
from classifier.train.cli import config_from_args
from classifier.train.dataset import EpochSamples
from classifier.train.device_augment import DeviceAugmentation, decode_images, device_batches
from classifier.train.trainer import Trainer
from classifier.transforms import Augmentation, TrainTransform
from tests.support.lesion_data import needs_data

from .test_train import _args

pytestmark = needs_data


def _both_ways(
    cases: list[Case], transform: TrainTransform, order: torch.Tensor, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    images = [load_image(c.path) for c in cases]
    samples = EpochSamples(images, cases, transform, order, seed=seed)
    loader = torch.utils.data.DataLoader(samples, batch_size=8, drop_last=True)
    by_loader = torch.cat([x for x, _ in loader])
    decoded = decode_images(images, [c.box for c in cases], transform, torch.device("cpu"))
    on_device = torch.cat(
        [x for x, _ in device_batches(DeviceAugmentation(transform, decoded), order, 8, seed)]
    )
    return by_loader, on_device


@pytest.mark.parametrize(
    ("augmentation", "preprocess"),
    [
        (Augmentation(), ()),
        (Augmentation(blur=1.0, cutout=1.0), ("crop_border", "shades_of_gray")),
        (Augmentation(box_guided=False, rotate_degrees=45.0, hue=0.1), ()),
    ],
    ids=["shipped", "blur-cutout-preprocessed", "strong-rotation-and-hue"],
)
def test_device_batches_are_the_loaders_augmentations_up_to_interpolation(
    ham_cases: list[Case], augmentation: Augmentation, preprocess: tuple[str, ...]
) -> None:
    config = replace(load_checkpoint(DEFAULT_CHECKPOINT).config, preprocess=preprocess)
    cases = ham_cases[:24]
    order = torch.tensor([(7 * k) % 24 for k in range(24)] + [3, 3, 5, 5, 11, 11, 0, 0])
    by_loader, on_device = _both_ways(cases, TrainTransform(config, augmentation), order, seed=11)

    assert on_device.shape == by_loader.shape == (32, 3, *config.input_size)
    # In [0, 1] pixel units (the normalisation's std is 0.5): rounding and resampling only. A
    # different flip, turn, angle, crop, jitter order or cutout square moves far more.
    difference = (on_device - by_loader).abs() * 0.5
    assert difference.mean() < 0.012
    for k in range(len(order)):
        assert difference[k].flatten().quantile(0.99) < 0.06, f"image {k} is drawn differently"
    # The same image twice in the order: two different draws, as in the loader.
    assert not torch.allclose(on_device[24], on_device[25])


def test_a_run_that_augments_on_the_device_records_it_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "model.pt"
    assert train.main(_args(out, 1, "--augment-on", "device", "--blur", "0.5")) == 0
    checkpoint = load_checkpoint(out)
    assert checkpoint.recipe["augment_on"] == "device"
    assert 0.0 <= checkpoint.metrics["val"]["melanoma-vs-nevus"]["auc"] <= 1.0
    assert train.main(_args(out, 2, "--augment-on", "device", "--resume")) == 0
    state = torch.load(tmp_path / "model.pt.state" / "last.pt", weights_only=False)
    assert state["epoch"] == 2 and [h["epoch"] for h in state["history"]] == [1, 2]


def test_the_device_path_scores_validation_from_inputs_made_once_with_the_same_result(
    tmp_path: Path,
) -> None:
    trainer = Trainer(config_from_args(_args(tmp_path / "m.pt", 1, "--augment-on", "device")))
    network = trainer.evaluated_network()
    kept = trainer.predict(network, trainer.val_cases)
    assert trainer.val_inputs is not None and len(trainer.val_inputs) == len(trainer.val_cases)
    again = trainer.predict(network, trainer.val_cases)
    # The test split is never served from the validation inputs.
    test = trainer.predict(network, trainer.test_cases)
    trainer.device_augmentation = None
    from_files = trainer.predict(network, trainer.val_cases)
    np.testing.assert_array_equal(kept, from_files)
    np.testing.assert_array_equal(again, from_files)
    np.testing.assert_array_equal(test, trainer.predict(network, trainer.test_cases))
