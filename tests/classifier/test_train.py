"""Training on real HAM10000 images: a short run writes a loadable checkpoint, resumes where it
stopped, and its augmentation does not depend on how many processes make it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from classifier import DEFAULT_SPLIT, train
from classifier.checkpoint import load_checkpoint
from classifier.data import Case, load_image
from classifier.predictor import Predictor
from classifier.train.dataset import EpochSamples
from tests.support.lesion_data import HAM10000, needs_data

pytestmark = needs_data


def _args(out: Path, epochs: int, *extra: str) -> list[str]:
    return [
        "--data", str(HAM10000),
        "--split", str(DEFAULT_SPLIT),
        "--epochs", str(epochs),
        "--out", str(out),
        "--input-size", "96x128",
        "--batch-size", "16",
        "--max-train-images", "48",
        "--max-eval-images", "40",
        "--biopsied-nevi-class",
        "--device", "cpu",
        "--precision", "fp32",
        "--no-test-metrics",
        "--half",
        *extra,
    ]  # fmt: skip


def test_short_run_writes_a_checkpoint_that_resumes_and_predicts(tmp_path: Path) -> None:
    out = tmp_path / "model.pt"
    assert train.main(_args(out, 1, "--name", "smoke")) == 0
    first = load_checkpoint(out)
    assert first.name == "smoke"
    assert first.config.input_size == (96, 128)
    # The scale of HAM10000's copy (200 x 150) is recorded for scoring's fit_to_source.
    assert first.config.source_size == (150, 200)
    assert first.config.output_classes[-1] == "nv:biopsied"
    assert first.recipe["epochs"] == 1
    assert 0.0 <= first.metrics["val"]["melanoma-vs-nevus"]["auc"] <= 1.0
    state = torch.load(tmp_path / "model.pt.state" / "last.pt", weights_only=False)
    assert state["epoch"] == 1 and len(state["history"]) == 1

    # A second invocation with more epochs and --resume continues from epoch 1, not 0.
    assert train.main(_args(out, 2, "--resume")) == 0
    state = torch.load(tmp_path / "model.pt.state" / "last.pt", weights_only=False)
    assert state["epoch"] == 2 and [h["epoch"] for h in state["history"]] == [1, 2]

    predictor = Predictor.from_checkpoint(out, device="cpu", precision="fp32")
    image = load_image(next((HAM10000 / "images").glob("*.jpg")))
    assert predictor.predict_images([image]).fine.sum() == pytest.approx(1.0, abs=1e-5)


def test_a_run_with_preprocessing_records_it_and_its_model_applies_it(tmp_path: Path) -> None:
    out = tmp_path / "model.pt"
    options = ["--preprocess", "crop_border,shades_of_gray", "--blur", "0.5", "--cutout", "0.5"]
    assert train.main(_args(out, 1, *options, "--biopsy-weight", "3")) == 0
    checkpoint = load_checkpoint(out)
    assert checkpoint.config.preprocess == ("crop_border", "shades_of_gray")
    assert checkpoint.recipe["biopsy_weight"] == 3.0
    predictor = Predictor.from_checkpoint(out, device="cpu", precision="fp32")
    image = load_image(next((HAM10000 / "images").glob("*.jpg")))
    plain = Predictor(
        predictor.network,
        dataclasses.replace(predictor.config, preprocess=()),
        device="cpu",
        precision="fp32",
    )
    assert not np.allclose(
        predictor.predict_images([image]).fine, plain.predict_images([image]).fine
    )


def test_augmentations_are_the_same_with_any_number_of_loader_workers(
    ham_cases: list[Case],
) -> None:
    from classifier.checkpoint import ModelConfig
    from classifier.transforms import Augmentation, TrainTransform

    cases = ham_cases[:8]
    images = [load_image(c.path) for c in cases]
    config = ModelConfig(
        arch="efficientnet_lite0",
        input_size=(64, 80),
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        class_names=("a", "b"),
        taxonomy_version="1",
    )
    order = torch.tensor([3, 1, 4, 1, 5, 2, 6, 5])
    samples = EpochSamples(images, cases, TrainTransform(config, Augmentation()), order, seed=7)

    def batches(workers: int) -> torch.Tensor:
        loader = torch.utils.data.DataLoader(samples, batch_size=4, num_workers=workers)
        return torch.cat([x for x, _ in loader])

    in_process = batches(0)
    assert torch.equal(in_process, batches(2))
    # Positions 1 and 3 are the same image drawn twice: differently augmented.
    assert not torch.equal(in_process[1], in_process[3])


def test_missing_data_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as raised:
        train.main(_args(tmp_path / "m.pt", 1, "--data", str(tmp_path / "nowhere")))
    assert str(raised.value).startswith("error: ")
    assert "nowhere/HAM10000_metadata.csv: cannot read" in str(raised.value)
    assert not (tmp_path / "m.pt").exists()


def test_epoch_metrics_are_reported_as_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train.main(_args(tmp_path / "m.pt", 1)) == 0
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    assert lines and {"train_loss", "val_selection_auc", "epoch"} <= set(lines[-1])
