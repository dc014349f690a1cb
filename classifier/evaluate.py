"""Evaluate a checkpoint on one binary task: ROC AUC with a DeLong 95% CI, an operating point,
and a ROC figure.

    python -m classifier.evaluate [--checkpoint PATH] --images DIR --manifest CSV \\
        --format ham10000|isic --task melanoma-vs-nevus [--biopsy-proven-only] \\
        [--split-file CSV --split test] [--tta] --json OUT [--roc PNG]

The score of an image is the task probability P(pos) / (P(pos) + P(neg)) from the taxonomy
(Esteva et al. 2017 sum the training classes into each side). The AUC and its variance follow
DeLong et al. (Biometrics 1988), computed by readerstudy.stats.roc. Sensitivity and
specificity are read at a threshold: the one stored in the checkpoint for this task (chosen
on the validation split by Youden's J, so it is not fitted to the test cases), else Youden's J
on the evaluated cases (said so in ``threshold_source``), or ``--threshold``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from classifier import DEFAULT_CHECKPOINT
from classifier.checkpoint import load_checkpoint
from classifier.data import FORMATS, SPLITS, Case, load_image, read_manifest, read_split
from classifier.predictor import Predictor
from classifier.taxonomy import Task, Taxonomy, load_taxonomy
from readerstudy.stats.roc import auc_ci


def roc_points(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Empirical ROC: (false positive rates, true positive rates, thresholds), one point per
    distinct score, from (0, 0) to (1, 1); a case is called positive when score >= threshold."""
    order = np.argsort(-scores, kind="mergesort")
    scores, truth = scores[order], truth[order]
    distinct = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]
    tp = np.cumsum(truth)[distinct]
    fp = np.cumsum(1 - truth)[distinct]
    tpr = np.r_[0.0, tp / max(truth.sum(), 1)]
    fpr = np.r_[0.0, fp / max((1 - truth).sum(), 1)]
    return fpr, tpr, np.r_[np.inf, scores[distinct]]


def youden_threshold(truth: np.ndarray, scores: np.ndarray) -> float:
    """The threshold that maximises sensitivity + specificity - 1 (Youden 1950)."""
    fpr, tpr, thresholds = roc_points(truth, scores)
    best = int(np.argmax(tpr - fpr))
    return float(thresholds[best]) if np.isfinite(thresholds[best]) else float(scores.max())


def binary_metrics(
    truth: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    threshold: float | None = None,
) -> dict[str, Any]:
    """AUC with DeLong 95% CI, and sensitivity/specificity at ``threshold`` (default: Youden's
    J on these cases)."""
    truth_array = np.asarray(truth, dtype=np.int64)
    score_array = np.asarray(scores, dtype=np.float64)
    result = auc_ci(truth_array, score_array)
    source = "given"
    if threshold is None:
        threshold, source = youden_threshold(truth_array, score_array), "youden-on-these-cases"
    called = score_array >= threshold
    positives, negatives = truth_array == 1, truth_array == 0
    return {
        "auc": float(result.auc),
        "auc_ci": [float(result.ci[0]), float(result.ci[1])],
        "n_positive": int(result.n_positive),
        "n_negative": int(result.n_negative),
        "sensitivity": float(called[positives].mean()),
        "specificity": float((~called[negatives]).mean()),
        "threshold": float(threshold),
        "threshold_source": source,
    }


def task_rows(
    cases: Sequence[Case], task: Task, *, biopsy_proven_only: bool
) -> tuple[list[int], np.ndarray]:
    """The indices of the cases a binary task covers (optionally only the biopsy-proven
    ones), and their truth (1 = positive)."""
    keep = [
        i
        for i, c in enumerate(cases)
        if task.truth(c.diagnosis) is not None and (c.biopsy_proven or not biopsy_proven_only)
    ]
    truth = np.array([task.truth(cases[i].diagnosis) for i in keep], dtype=np.int64)
    return keep, truth


def task_cases(cases: Sequence[Case], task: Task, *, biopsy_proven_only: bool) -> list[Case]:
    """The cases a task covers (optionally only the biopsy-proven ones)."""
    keep, _ = task_rows(cases, task, biopsy_proven_only=biopsy_proven_only)
    return [cases[i] for i in keep]


def evaluate_scores(
    cases: Sequence[Case],
    fine: np.ndarray,
    taxonomy: Taxonomy,
    task: Task,
    *,
    biopsy_proven_only: bool,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Metrics of training-class probabilities ``fine`` (rows aligned with ``cases``)."""
    keep, truth = task_rows(cases, task, biopsy_proven_only=biopsy_proven_only)
    scores = taxonomy.task_probability(fine[keep], task)
    return binary_metrics(truth, scores, threshold)


def plot_roc(
    truth: np.ndarray, scores: np.ndarray, metrics: dict[str, Any], title: str, path: Path
) -> None:
    """Write the empirical ROC curve with its AUC, CI and operating point as a PNG (drawn with
    Pillow, so the classifier needs no plotting library)."""
    fpr, tpr, _ = roc_points(truth, scores)
    size, margin = 480, 56
    span = size - 2 * margin
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)

    def xy(x: float, y: float) -> tuple[float, float]:
        return (margin + x * span, size - margin - y * span)

    for tick in np.linspace(0, 1, 6):
        draw.line([xy(tick, 0), xy(tick, 1)], fill=(232, 232, 232))
        draw.line([xy(0, tick), xy(1, tick)], fill=(232, 232, 232))
        draw.text((xy(tick, 0)[0] - 8, size - margin + 6), f"{tick:.1f}", fill="black")
        draw.text((margin - 30, xy(0, tick)[1] - 6), f"{tick:.1f}", fill="black")
    draw.rectangle([xy(0, 1), xy(1, 0)], outline="black")
    draw.line([xy(0, 0), xy(1, 1)], fill=(160, 160, 160))
    steps: list[tuple[float, float]] = []
    for i in range(len(fpr)):
        if i:
            steps.append(xy(fpr[i], tpr[i - 1]))
        steps.append(xy(fpr[i], tpr[i]))
    draw.line(steps, fill=(31, 90, 180), width=3)
    px, py = xy(1 - metrics["specificity"], metrics["sensitivity"])
    draw.ellipse([px - 5, py - 5, px + 5, py + 5], fill="black")
    lo, hi = metrics["auc_ci"]
    draw.text((margin, 12), title[:70], fill="black")
    draw.text(
        (margin, 28),
        f"AUC {metrics['auc']:.3f} (95% CI {lo:.3f}-{hi:.3f}); "
        f"dot: threshold {metrics['threshold']:.3f}",
        fill="black",
    )
    draw.text((size / 2 - 40, size - 24), "1 - specificity", fill="black")
    draw.text((4, margin - 20), "sensitivity", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m classifier.evaluate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument("--task", required=True, help="a built-in task name or a task JSON file")
    parser.add_argument("--biopsy-proven-only", action="store_true")
    parser.add_argument(
        "--split-file", type=Path, default=None, help="a split CSV (image_id -> split)"
    )
    parser.add_argument(
        "--split", choices=SPLITS, default="test", help="with --split-file: the part to score"
    )
    parser.add_argument("--tta", action="store_true", help="average the image and its flips")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", type=Path, required=True, help="where to write the metrics")
    parser.add_argument("--roc", type=Path, default=None, help="ROC PNG (default: beside --json)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    taxonomy = load_taxonomy()
    task = (
        taxonomy.task_from_file(args.task)
        if args.task.endswith(".json")
        else taxonomy.task(args.task)
    )
    checkpoint_path = args.checkpoint or DEFAULT_CHECKPOINT
    predictor = Predictor.from_checkpoint(
        checkpoint_path, device=args.device, precision=args.precision, tta=args.tta
    )
    cases = read_manifest(args.manifest, args.images, args.format, taxonomy, skip_unknown=True)
    if args.split_file is not None:
        split = read_split(args.split_file)
        cases = [c for c in cases if split.get(c.image_id) == args.split]
    cases = task_cases(cases, task, biopsy_proven_only=args.biopsy_proven_only)
    if not cases:
        print("no cases of this task in the manifest", file=sys.stderr)
        return 2
    prediction = predictor.predict_images(
        [load_image(c.path) for c in cases], batch_size=args.batch_size
    )
    threshold = args.threshold
    stored = load_checkpoint(checkpoint_path).metrics.get("thresholds", {}).get(task.name)
    if threshold is None and stored is not None:
        threshold = float(stored)
    metrics = evaluate_scores(
        cases,
        prediction.fine,
        taxonomy,
        task,
        biopsy_proven_only=args.biopsy_proven_only,
        threshold=threshold,
    )
    if args.threshold is None and stored is not None:
        metrics["threshold_source"] = "checkpoint (validation split, Youden's J)"
    metrics.update(
        {
            "task": task.name,
            "checkpoint_sha256": predictor.sha256,
            "precision": predictor.precision,
            "tta": bool(args.tta),
            "biopsy_proven_only": bool(args.biopsy_proven_only),
            "n_images": len(cases),
        }
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    truth = np.array([task.truth(c.diagnosis) for c in cases], dtype=np.int64)
    scores = taxonomy.task_probability(prediction.fine, task)
    roc_path = args.roc or args.json.with_suffix(".png")
    plot_roc(truth, scores, metrics, f"{task.label} (n={len(cases)})", roc_path)
    lo, hi = metrics["auc_ci"]
    print(
        f"{task.name}: AUC {metrics['auc']:.4f} (95% CI {lo:.4f}-{hi:.4f}), "
        f"{metrics['n_positive']} positive / {metrics['n_negative']} negative; "
        f"sensitivity {metrics['sensitivity']:.3f}, specificity {metrics['specificity']:.3f} "
        f"at {metrics['threshold']:.4f}; wrote {args.json} and {roc_path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
