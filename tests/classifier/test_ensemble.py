"""classifier.ensemble: members that cannot be averaged are refused, and a packed ensemble
is a checkpoint with its own validation thresholds and held-out metrics."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from classifier import DEFAULT_CHECKPOINT, DEFAULT_SPLIT, ensemble
from classifier.architectures import Ensemble
from classifier.checkpoint import (
    CheckpointError,
    build_network,
    load_checkpoint,
    save_checkpoint,
)
from classifier.data import load_image
from classifier.predictor import Predictor
from tests.classifier.test_checkpoint import make_checkpoint, make_config
from tests.support.lesion_data import HAM10000, needs_data


def test_members_must_agree_on_what_they_see_and_answer() -> None:
    base = make_checkpoint(make_config(source_size=(150, 200)))
    for field, value in (
        ("input_size", (225, 300)),
        ("source_size", None),
        ("mean", (0.485, 0.456, 0.406)),
        ("output_classes", (*base.config.class_names, "nv:biopsied")),
    ):
        other = dataclasses.replace(base, config=dataclasses.replace(base.config, **{field: value}))
        with pytest.raises(CheckpointError, match=f"b.pt: {field} .* differs from a.pt's"):
            ensemble.combine([base, other], ["a.pt", "b.pt"])
    other = dataclasses.replace(base, split_seed=base.split_seed + 1)
    with pytest.raises(CheckpointError, match=r"split seed .* another member's test lesions"):
        ensemble.combine([base, other], ["a.pt", "b.pt"])
    with pytest.raises(CheckpointError, match="at least two members"):
        ensemble.combine([base], ["a.pt"])


def test_packed_members_average_their_probabilities(tmp_path: Path) -> None:
    first = make_checkpoint(make_config(source_size=(150, 200)))
    second = dataclasses.replace(
        first, state_dicts=[{k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() else v
                             for k, v in first.state_dict.items()}]
    )  # fmt: skip
    packed = ensemble.combine([first, second], ["a.pt", "b.pt"])
    assert packed.config.members == ("efficientnet_lite0", "efficientnet_lite0")
    assert packed.config.source_size == (150, 200)
    save_checkpoint(packed, tmp_path / "ensemble.pt")
    network = build_network(load_checkpoint(tmp_path / "ensemble.pt"))
    assert isinstance(network, Ensemble)
    x = torch.randn(2, 3, 150, 200)
    with torch.inference_mode():
        mean = sum(torch.softmax(build_network(c)(x), 1) for c in (first, second)) / 2
        torch.testing.assert_close(torch.softmax(network(x), 1), mean, atol=1e-5, rtol=1e-4)


def _small_split(path: Path, per_part: int) -> None:
    """A split file that keeps the first biopsy-proven images of each task's classes in val
    and test (the rest of HAM10000 falls outside it)."""
    with open(DEFAULT_SPLIT, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    keep = []
    for part in ("val", "test"):
        for dx in ("mel", "nv", "bcc", "bkl"):
            chosen = [r for r in rows if r["split"] == part and r["dx"] == dx]
            keep += [r for r in chosen if r["dx_type"] == "histo"][:per_part]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(keep)


@needs_data
def test_a_model_packed_with_itself_measures_as_the_model(tmp_path: Path) -> None:
    _small_split(tmp_path / "split.csv", per_part=8)
    out = tmp_path / "twice.pt"
    args = [str(DEFAULT_CHECKPOINT), str(DEFAULT_CHECKPOINT), "--out", str(out), "--half"]
    args += ["--data", str(HAM10000), "--split-file", str(tmp_path / "split.csv")]
    assert ensemble.main([*args, "--precision", "fp32", "--name", "twice"]) == 0
    packed = load_checkpoint(out)
    assert (packed.name, len(packed.state_dicts)) == ("twice", 2)
    assert [m["name"] for m in packed.recipe["ensemble_of"]] == [
        load_checkpoint(DEFAULT_CHECKPOINT).name
    ] * 2
    single = ensemble.measure(
        load_checkpoint(DEFAULT_CHECKPOINT), HAM10000, tmp_path / "split.csv", precision="fp32"
    )
    assert packed.metrics["thresholds"] == pytest.approx(single["thresholds"], abs=1e-5)
    for task in ("melanoma-vs-nevus", "carcinoma-vs-keratosis"):
        assert packed.metrics["test"][task]["auc"] == pytest.approx(single["test"][task]["auc"])
        assert packed.metrics["test"][task]["n_positive"] == 8
    # And it scores like the model it doubles.
    image = load_image(next((HAM10000 / "images").glob("*.jpg")))
    twice = Predictor.from_checkpoint(out, device="cpu", precision="fp32")
    once = Predictor.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu", precision="fp32")
    np.testing.assert_allclose(
        twice.predict_images([image]).fine, once.predict_images([image]).fine, atol=1e-5
    )


def test_mismatched_members_stop_the_command_with_one_line(tmp_path: Path) -> None:
    save_checkpoint(make_checkpoint(), tmp_path / "a.pt")
    save_checkpoint(make_checkpoint(make_config(input_size=(96, 128))), tmp_path / "b.pt")
    with pytest.raises(SystemExit, match=r"error: .*b\.pt: input_size \(96, 128\) differs"):
        ensemble.main(
            [str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), "--out", str(tmp_path / "e.pt")]
        )
    assert not (tmp_path / "e.pt").exists()
