"""The checkpoint file: round trip, identity, and clear refusals of files that are not one."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pytest
import torch

from classifier.architectures import Ensemble, build_model
from classifier.checkpoint import (
    Checkpoint,
    CheckpointError,
    ModelConfig,
    build_network,
    file_sha256,
    load_checkpoint,
    save_checkpoint,
)
from classifier.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()


def make_config(**overrides: object) -> ModelConfig:
    values: dict[str, object] = {
        "arch": "efficientnet_lite0",
        "input_size": (150, 200),
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
        "class_names": TAXONOMY.training_classes,
        "taxonomy_version": TAXONOMY.version,
    }
    values.update(overrides)
    return ModelConfig(**values)  # type: ignore[arg-type]


def make_checkpoint(config: ModelConfig | None = None) -> Checkpoint:
    config = config or make_config()
    torch.manual_seed(0)
    states = [build_model(a, config.num_outputs).state_dict() for a in config.members]
    return Checkpoint(
        config=config,
        state_dicts=states,
        metrics={"test": {"melanoma-vs-nevus": {"auc": 0.9}}},
        data_summary={"dataset": "HAM10000"},
        split_seed=7,
        name="tiny",
    )


def test_checkpoint_round_trips_config_weights_and_metadata(tmp_path: Path) -> None:
    original = make_checkpoint()
    save_checkpoint(original, tmp_path / "model.pt")
    loaded = load_checkpoint(tmp_path / "model.pt")
    assert loaded.config == original.config
    assert loaded.metrics == original.metrics
    assert loaded.data_summary == {"dataset": "HAM10000"}
    assert (loaded.split_seed, loaded.name) == (7, "tiny")
    for key, tensor in original.state_dict.items():
        torch.testing.assert_close(loaded.state_dict[key], tensor)


def test_source_size_round_trips_and_an_older_config_has_none(tmp_path: Path) -> None:
    save_checkpoint(make_checkpoint(make_config(source_size=(150, 200))), tmp_path / "a.pt")
    assert load_checkpoint(tmp_path / "a.pt").config.source_size == (150, 200)
    older = make_config().to_dict()
    del older["source_size"]  # a checkpoint written before the field existed
    assert ModelConfig.from_dict(older).source_size is None


def test_preprocessing_steps_round_trip_and_an_unknown_one_is_refused(tmp_path: Path) -> None:
    config = make_config(preprocess=("crop_border", "shades_of_gray"))
    save_checkpoint(make_checkpoint(config), tmp_path / "a.pt")
    assert load_checkpoint(tmp_path / "a.pt").config.preprocess == ("crop_border", "shades_of_gray")
    newer = {**config.to_dict(), "preprocess": ["crop_border", "hair_removal"]}
    with pytest.raises(CheckpointError, match=r"unknown preprocessing steps \['hair_removal'\]"):
        ModelConfig.from_dict(newer)


def test_half_precision_file_is_about_half_the_size_and_loads_as_fp32(tmp_path: Path) -> None:
    checkpoint = make_checkpoint()
    save_checkpoint(checkpoint, tmp_path / "fp32.pt")
    save_checkpoint(checkpoint, tmp_path / "fp16.pt", half=True)
    ratio = (tmp_path / "fp16.pt").stat().st_size / (tmp_path / "fp32.pt").stat().st_size
    assert 0.45 < ratio < 0.55
    network = build_network(load_checkpoint(tmp_path / "fp16.pt"))
    assert next(network.parameters()).dtype == torch.float32


def test_sha256_is_the_files_digest_and_changes_with_the_weights(tmp_path: Path) -> None:
    checkpoint = make_checkpoint()
    sha = save_checkpoint(checkpoint, tmp_path / "a.pt")
    assert sha == file_sha256(tmp_path / "a.pt")
    assert sha == hashlib.sha256((tmp_path / "a.pt").read_bytes()).hexdigest()
    checkpoint.state_dict["classifier.bias"] += 1
    assert save_checkpoint(checkpoint, tmp_path / "b.pt") != sha


def test_ensemble_checkpoint_builds_an_ensemble(tmp_path: Path) -> None:
    config = make_config(members=("efficientnet_lite0", "efficientnet_lite0"))
    save_checkpoint(make_checkpoint(config), tmp_path / "ensemble.pt")
    network = build_network(load_checkpoint(tmp_path / "ensemble.pt"))
    assert isinstance(network, Ensemble)
    assert len(network.members) == 2


def test_finer_outputs_must_belong_to_a_training_class() -> None:
    config = make_config(output_classes=(*TAXONOMY.training_classes, "nv:biopsied"))
    assert config.num_outputs == 8
    assert config.output_parent("nv:biopsied") == "nv"
    with pytest.raises(CheckpointError, match="belong to no class"):
        ModelConfig.from_dict({**config.to_dict(), "output_classes": ["xx:biopsied"]})


def test_text_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "notes.pt"
    path.write_text("not a model")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_checkpoint(path)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "absent.pt")


def test_bare_state_dict_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save(build_model("efficientnet_lite0", 7).state_dict(), path)
    with pytest.raises(CheckpointError, match="not a readerstudy classifier checkpoint"):
        load_checkpoint(path)


def test_pickled_code_is_refused_without_running_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"format": "readerstudy-classifier", "x": Exploit()}))
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_checkpoint(path)
    assert "pwned" not in capsys.readouterr().out


def test_future_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.pt"
    torch.save({"format": "readerstudy-classifier", "format_version": 99}, path)
    with pytest.raises(CheckpointError, match="unsupported checkpoint format version 99"):
        load_checkpoint(path)


def test_weights_that_do_not_fit_the_architecture_are_refused(tmp_path: Path) -> None:
    checkpoint = make_checkpoint(make_config(arch="efficientnet_lite2"))
    checkpoint.state_dicts = [build_model("efficientnet_lite0", 7).state_dict()]
    save_checkpoint(checkpoint, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="weights do not fit efficientnet_lite2"):
        build_network(load_checkpoint(tmp_path / "mismatch.pt"))


def test_config_without_class_names_is_refused(tmp_path: Path) -> None:
    checkpoint = make_checkpoint()
    save_checkpoint(checkpoint, tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    del payload["config"]["class_names"]
    torch.save(payload, tmp_path / "broken.pt")
    with pytest.raises(CheckpointError, match="invalid model config"):
        load_checkpoint(tmp_path / "broken.pt")
