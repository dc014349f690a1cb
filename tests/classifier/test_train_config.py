"""The training command line builds a TrainConfig: one field per option, under the option's
name, with the shipped recipe's defaults; scripts and recorded recipes depend on both."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from classifier.train.cli import _parser, config_from_args
from classifier.train.config import TrainConfig

REQUIRED = ["--data", "ham", "--epochs", "12", "--out", "runs/lite0/model.pt"]


def test_every_option_is_a_config_field_in_the_same_order() -> None:
    options = [action.dest for action in _parser()._actions if action.dest != "help"]
    assert options == [field.name for field in dataclasses.fields(TrainConfig)]


def test_the_command_line_defaults_are_the_shipped_recipe() -> None:
    config = config_from_args(REQUIRED)
    assert config == TrainConfig(data=Path("ham"), epochs=12, out=Path("runs/lite0/model.pt"))
    assert (config.arch, config.input_size, config.batch_size) == (
        "efficientnet_lite0",
        (150, 200),
        32,
    )
    assert (config.lr, config.min_lr, config.weight_decay) == (6e-4, 1e-6, 0.05)
    assert (config.warmup_epochs, config.label_smoothing, config.drop_path) == (1.0, 0.1, 0.1)
    assert (config.ema_decay, config.sampling_power, config.loss_weight_power) == (0.999, 0.5, 0.0)
    assert (config.split_seed, config.seed, config.select) == (20240601, 0, "last")
    assert (config.precision, config.threads, config.test_metrics) == ("auto", 2, True)
    assert config.split_path == Path("runs/lite0/split.csv")
    assert config.state_dir == Path("runs/lite0/model.pt.state")
    assert config.model_name == "efficientnet_lite0-ham10000-150x200"


def test_options_set_their_fields_and_the_recipe_records_them_as_text() -> None:
    options = ["--input-size", "96x128", "--select", "best", "--no-test-metrics"]
    options += ["--biopsied-nevi-class", "--workdir", "state", "--split", "split.csv"]
    config = config_from_args([*REQUIRED, *options])
    assert config.input_size == (96, 128) and config.select == "best"
    assert config.biopsied_nevi_class and not config.test_metrics
    assert (config.split_path, config.state_dir) == (Path("split.csv"), Path("state"))
    recipe = config.recipe()
    assert list(recipe) == [field.name for field in dataclasses.fields(TrainConfig)]
    assert recipe["data"] == "ham" and recipe["workdir"] == "state" and recipe["epochs"] == 12


def test_preprocessing_and_augmentation_options() -> None:
    config = config_from_args(REQUIRED)
    assert (config.preprocess, config.blur, config.cutout, config.biopsy_weight) == ((), 0, 0, 1)
    options = ["--preprocess", "crop_border,shades_of_gray", "--blur", "0.3", "--cutout", "0.5"]
    config = config_from_args([*REQUIRED, *options, "--biopsy-weight", "2"])
    assert config.preprocess == ("crop_border", "shades_of_gray")
    assert (config.blur, config.cutout, config.biopsy_weight) == (0.3, 0.5, 2.0)
    assert config.recipe()["preprocess"] == ["crop_border", "shades_of_gray"]


def test_an_unknown_preprocessing_step_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        config_from_args([*REQUIRED, "--preprocess", "crop_border,sharpen"])
    assert "unknown preprocessing steps ['sharpen']" in capsys.readouterr().err


def test_python_dash_m_classifier_train_is_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "classifier.train", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.startswith("usage: python -m classifier.train")
    assert "--biopsied-nevi-class" in result.stdout and "--no-test-metrics" in result.stdout
