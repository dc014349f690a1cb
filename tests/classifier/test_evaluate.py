"""Metrics and the evaluate command on real, external images (ISIC UDA-1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from classifier import evaluate
from tests.support.lesion_data import ISIC, needs_data


def test_binary_metrics_count_the_operating_point() -> None:
    truth = [1, 1, 1, 0, 0, 0, 0]
    scores = [0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.05]
    metrics = evaluate.binary_metrics(truth, scores, threshold=0.5)
    # 2 of 3 positives called, 3 of 4 negatives cleared; AUC = 11/12 concordant pairs (0.3 < 0.6).
    assert metrics["sensitivity"] == pytest.approx(2 / 3)
    assert metrics["specificity"] == pytest.approx(3 / 4)
    assert metrics["auc"] == pytest.approx(11 / 12)
    lo, hi = metrics["auc_ci"]
    assert lo < metrics["auc"] < hi
    assert metrics["threshold_source"] == "given"


def test_youden_threshold_separates_separable_scores() -> None:
    truth = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.7, 0.8])
    threshold = evaluate.youden_threshold(truth, scores)
    assert 0.3 < threshold <= 0.7
    metrics = evaluate.binary_metrics(truth, scores)
    assert metrics["sensitivity"] == metrics["specificity"] == 1.0
    assert metrics["threshold_source"] == "youden-on-these-cases"


@needs_data
def test_evaluate_command_writes_metrics_and_roc_for_an_external_set(tmp_path: Path) -> None:
    out = tmp_path / "isic.json"
    status = evaluate.main(
        [
            "--images", str(ISIC / "images"),
            "--manifest", str(ISIC / "metadata.csv"),
            "--format", "isic",
            "--task", "melanoma-vs-nevus",
            "--device", "cpu",
            "--precision", "fp32",
            "--json", str(out),
        ]
    )  # fmt: skip
    assert status == 0
    metrics = json.loads(out.read_text())
    assert (metrics["n_positive"], metrics["n_negative"]) == (30, 60)
    assert 0.5 < metrics["auc"] <= 1.0
    assert metrics["auc_ci"][0] < metrics["auc"] < metrics["auc_ci"][1]
    assert metrics["threshold_source"] == "checkpoint (validation split, Youden's J)"
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_data
def test_a_task_with_no_cases_in_the_manifest_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = evaluate.main(
        [
            "--images", str(ISIC / "images"),
            "--manifest", str(ISIC / "metadata.csv"),
            "--format", "isic",
            "--task", "carcinoma-vs-keratosis",
            "--json", str(tmp_path / "none.json"),
        ]
    )  # fmt: skip
    assert status == 2
    assert "no cases of this task" in capsys.readouterr().err
    assert not (tmp_path / "none.json").exists()
