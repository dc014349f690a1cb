"""Every figure the model card reports, measured in one run: the binary tasks' AUCs with
DeLong 95% CIs per image and per lesion, the 7-class and three-way diagnosis accuracy, the
external ISIC set, and (with ``--compare`` or ``--compare-tta``) the paired DeLong difference
to another model, or to the same model under another test-time augmentation.

    python -m classifier.report [--checkpoint PATH] [--data ../shared/data/ham10000] \\
        [--split-file classifier/models/split.csv] [--part test] \\
        [--external ../shared/data/isic-uda1-demo] [--tta none|flips|dihedral] \\
        [--compare OTHER.pt] [--compare-tta MODE] --json OUT

A model that weighs the patient's details (``classifier.metadata``) gets each image's age, sex
and body site from the manifest, as a scoring worker gets them from the case.

Binary tasks (Esteva et al. 2017): the score is P(pos) / (P(pos) + P(neg)); biopsy-proven
cases only, except the row that says "all nevi". HAM10000 has several images of many lesions,
which are not independent cases: the lesion-level row scores each lesion once, with the mean of
its images' task probabilities, so its DeLong CI counts lesions (images of one lesion share
their diagnosis and how it was confirmed). Sensitivity and specificity are read at the
threshold stored in the checkpoint (chosen on the validation split).

Diagnosis (Tschandl et al., Lancet Oncol 2019; Esteva et al. 2017): the CNN's answer is the
class with the highest probability, over the 7 HAM10000 classes and over Esteva's three-way
partition (benign, malignant, non-neoplastic: each the sum of its training classes, as the
platform's ``esteva3`` class scheme does; HAM10000 has no non-neoplastic diagnosis, so that
class has no probability and is never the truth). Accuracy with a Wilson (1927) interval and
mean recall (balanced accuracy), on every held-out image whatever its confirmation, and per
lesion (the mean of its images' probabilities).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classifier import DEFAULT_CHECKPOINT, DEFAULT_SPLIT
from classifier.checkpoint import load_checkpoint
from classifier.clinical import ClinicalInfo
from classifier.data import SPLITS, Case, load_image, read_ham10000, read_manifest, read_split
from classifier.evaluate import binary_metrics, task_rows
from classifier.predictor import TTA_MODES, Predictor
from classifier.taxonomy import Task, Taxonomy, load_taxonomy
from readerstudy.stats.diagnosis import diagnosis_result
from readerstudy.stats.roc import paired_test

BINARY_TASKS = ("melanoma-vs-nevus", "carcinoma-vs-keratosis", "malignant-vs-benign")
ALL_NEVI = "melanoma-vs-nevus (all nevi)"
ESTEVA3 = ("benign", "malignant", "non-neoplastic")  # the platform's esteva3 order (ties)


def clinical(cases: Sequence[Case]) -> list[ClinicalInfo]:
    """The patients' details of ``cases``, for a model that weighs them (an image-only model
    ignores them)."""
    return [case.clinical for case in cases]


def lesion_groups(cases: Sequence[Case]) -> list[list[int]]:
    """The indices of each lesion's images, lesions in order of their first image."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, case in enumerate(cases):
        groups[case.lesion_id].append(index)
    return list(groups.values())


def per_lesion(
    cases: Sequence[Case], keep: Sequence[int], values: np.ndarray
) -> tuple[list[Case], np.ndarray]:
    """One row per lesion among ``cases[keep]``: its first image's case and the mean of its
    images' ``values`` (rows aligned with ``keep``)."""
    chosen = [cases[i] for i in keep]
    groups = lesion_groups(chosen)
    for group in groups:
        kinds = {(chosen[i].diagnosis, chosen[i].biopsy_proven) for i in group}
        if len(kinds) > 1:
            raise ValueError(
                f"lesion {chosen[group[0]].lesion_id} has images with different diagnoses "
                f"or confirmations: {sorted(kinds)}"
            )
    return [chosen[g[0]] for g in groups], np.stack([values[g].mean(axis=0) for g in groups])


def binary_task_report(
    cases: Sequence[Case],
    fine: np.ndarray,
    taxonomy: Taxonomy,
    task: Task,
    *,
    biopsy_proven_only: bool,
    threshold: float | None,
) -> dict[str, Any]:
    """A task's metrics per image and per lesion (AUC, DeLong CI, operating point)."""
    keep, truth = task_rows(cases, task, biopsy_proven_only=biopsy_proven_only)
    scores = taxonomy.task_probability(fine[keep], task)
    lesions, lesion_scores = per_lesion(cases, keep, scores)
    lesion_truth = np.array([task.truth(c.diagnosis) for c in lesions], dtype=np.int64)
    return {
        "image": binary_metrics(truth, scores, threshold),
        "lesion": binary_metrics(lesion_truth, lesion_scores, threshold),
    }


def three_way_probabilities(fine: np.ndarray, taxonomy: Taxonomy) -> np.ndarray:
    """(n, 3) probabilities of benign, malignant, non-neoplastic (always 0 here)."""
    sums = taxonomy.inference_probabilities(fine)
    return np.stack([sums["benign"], sums["malignant"], np.zeros(len(fine))], axis=1)


def _answers(probabilities: np.ndarray, classes: Sequence[str]) -> list[str]:
    # argmax takes the first of equal maxima: the scheme's order breaks ties, as the app does.
    return [classes[i] for i in probabilities.argmax(axis=1)]


def diagnosis_report(
    truth: Sequence[str], probabilities: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Accuracy (Wilson CI), mean recall, per-class recall and the confusion matrix of the
    CNN's highest-probability class."""
    result = diagnosis_result(list(truth), _answers(probabilities, classes), list(classes))
    present = set(truth)
    return {
        "classes": list(classes),
        "n": result.n,
        "accuracy": result.accuracy.estimate,
        "accuracy_ci": list(result.accuracy.ci),
        "mean_recall": result.mean_recall,
        "recall": {
            str(rates.label): rates.sensitivity.estimate
            for rates in result.per_class
            if rates.label in present
        },
        "confusion": result.confusion.tolist(),
    }


def diagnosis_reports(
    cases: Sequence[Case], fine: np.ndarray, taxonomy: Taxonomy
) -> dict[str, Any]:
    """The 7-class and three-way reports, per image and per lesion."""
    classes7 = taxonomy.training_classes

    def seven(chosen: Sequence[Case], probabilities: np.ndarray) -> dict[str, Any]:
        truth = [taxonomy.diagnoses[c.diagnosis].training_class for c in chosen]
        return diagnosis_report(truth, probabilities, classes7)

    def three(chosen: Sequence[Case], probabilities: np.ndarray) -> dict[str, Any]:
        truth = [
            "malignant" if taxonomy.diagnoses[c.diagnosis].malignant else "benign" for c in chosen
        ]
        return diagnosis_report(truth, three_way_probabilities(probabilities, taxonomy), ESTEVA3)

    lesions, lesion_fine = per_lesion(cases, range(len(cases)), fine)
    return {
        "classes7": {"image": seven(cases, fine), "lesion": seven(lesions, lesion_fine)},
        "esteva3": {"image": three(cases, fine), "lesion": three(lesions, lesion_fine)},
    }


def compare_report(
    cases: Sequence[Case],
    fine: np.ndarray,
    other: np.ndarray,
    taxonomy: Taxonomy,
) -> dict[str, Any]:
    """Paired DeLong tests (this model - the other) per task, per image and per lesion."""
    out: dict[str, Any] = {}
    for name in BINARY_TASKS:
        task = taxonomy.task(name)
        keep, truth = task_rows(cases, task, biopsy_proven_only=True)
        first = taxonomy.task_probability(fine[keep], task)
        second = taxonomy.task_probability(other[keep], task)
        lesions, both = per_lesion(cases, keep, np.stack([first, second], axis=1))
        lesion_truth = np.array([task.truth(c.diagnosis) for c in lesions], dtype=np.int64)
        out[name] = {}
        for level, (t, a, b) in {
            "image": (truth, first, second),
            "lesion": (lesion_truth, both[:, 0], both[:, 1]),
        }.items():
            test = paired_test(t, a, b)
            out[name][level] = {
                "auc": test.auc_first,
                "auc_other": test.auc_second,
                "difference": test.diff,
                "difference_ci": list(test.ci),
                "p": test.p,
            }
    return out


def model_report(
    predictor: Predictor,
    cases: Sequence[Case],
    taxonomy: Taxonomy,
    thresholds: dict[str, float],
    *,
    batch_size: int = 32,
) -> tuple[dict[str, Any], np.ndarray]:
    """The held-out report of one model, and its training-class probabilities."""
    fine = predictor.predict_images(
        [load_image(c.path) for c in cases], batch_size=batch_size, metadata=clinical(cases)
    ).fine
    tasks = {
        name: binary_task_report(
            cases,
            fine,
            taxonomy,
            taxonomy.task(name),
            biopsy_proven_only=True,
            threshold=thresholds.get(name),
        )
        for name in BINARY_TASKS
    }
    tasks[ALL_NEVI] = binary_task_report(
        cases,
        fine,
        taxonomy,
        taxonomy.task("melanoma-vs-nevus"),
        biopsy_proven_only=False,
        threshold=thresholds.get("melanoma-vs-nevus"),
    )
    return {"tasks": tasks, **diagnosis_reports(cases, fine, taxonomy)}, fine


def external_report(
    predictor: Predictor, folder: Path, taxonomy: Taxonomy, thresholds: dict[str, float]
) -> dict[str, Any]:
    """Melanoma vs nevus on an ISIC folder (``metadata.csv`` + ``images/``); every image is
    its own lesion and the nevi count whatever their confirmation."""
    cases = read_manifest(
        folder / "metadata.csv", folder / "images", "isic", taxonomy, skip_unknown=True
    )
    task = taxonomy.task("melanoma-vs-nevus")
    keep, truth = task_rows(cases, task, biopsy_proven_only=False)
    fine = predictor.predict_images(
        [load_image(cases[i].path) for i in keep], metadata=clinical([cases[i] for i in keep])
    ).fine
    metrics = binary_metrics(
        truth, taxonomy.task_probability(fine, task), thresholds.get(task.name)
    )
    return {"melanoma-vs-nevus": {"source": str(folder), **metrics}}


def _ci(metrics: dict[str, Any]) -> str:
    lo, hi = metrics["auc_ci"]
    return f"{metrics['auc']:.3f} ({lo:.3f}-{hi:.3f})"


def markdown(report: dict[str, Any]) -> str:
    """The card's table of the report."""
    lines = [
        "| task | n pos / neg (images; lesions) | AUC per image (95% CI) | AUC per lesion "
        "(95% CI) | sensitivity | specificity |",
        "|---|---|---|---|---|---|",
    ]
    for name, rows in report["tasks"].items():
        image, lesion = rows["image"], rows["lesion"]
        lines.append(
            f"| {name} | {image['n_positive']} / {image['n_negative']}; "
            f"{lesion['n_positive']} / {lesion['n_negative']} | {_ci(image)} | {_ci(lesion)} | "
            f"{image['sensitivity']:.3f} | {image['specificity']:.3f} |"
        )
    for name, metrics in report.get("external", {}).items():
        lines.append(
            f"| external: {name} | {metrics['n_positive']} / {metrics['n_negative']} | "
            f"{_ci(metrics)} | | {metrics['sensitivity']:.3f} | {metrics['specificity']:.3f} |"
        )
    lines += [
        "",
        "| diagnosis | n (images; lesions) | accuracy (95% CI) | mean recall |",
        "|---|---|---|---|",
    ]
    for key, label in (("classes7", "7 HAM10000 classes"), ("esteva3", "three-way (Esteva)")):
        for level in ("image", "lesion"):
            d = report[key][level]
            lo, hi = d["accuracy_ci"]
            lines.append(
                f"| {label}, per {level} | {d['n']} | {d['accuracy']:.3f} ({lo:.3f}-{hi:.3f}) | "
                f"{d['mean_recall']:.3f} |"
            )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m classifier.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ham10000"))
    parser.add_argument("--split-file", type=Path, default=DEFAULT_SPLIT)
    parser.add_argument("--part", choices=SPLITS, default="test")
    parser.add_argument(
        "--external", type=Path, default=None, help="an ISIC folder (metadata.csv, images/)"
    )
    parser.add_argument(
        "--compare", type=Path, default=None, help="another checkpoint (default: this one)"
    )
    parser.add_argument("--tta", choices=TTA_MODES, default="none")
    parser.add_argument(
        "--compare-tta", choices=TTA_MODES, default=None, help="the other's TTA (default: --tta)"
    )
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", type=Path, required=True, help="where to write the report")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    taxonomy = load_taxonomy()
    split = read_split(args.split_file)
    cases = [c for c in read_ham10000(args.data, taxonomy) if split.get(c.image_id) == args.part]
    if not cases:
        print(f"no images of the {args.part} split in {args.data}", file=sys.stderr)
        return 2

    def load(path: Path, tta: str) -> tuple[Predictor, dict[str, float]]:
        predictor = Predictor.from_checkpoint(
            path, device=args.device, precision=args.precision, tta=tta
        )
        thresholds = load_checkpoint(path).metrics.get("thresholds", {})
        return predictor, {k: float(v) for k, v in thresholds.items()}

    predictor, thresholds = load(args.checkpoint, args.tta)
    report, fine = model_report(predictor, cases, taxonomy, thresholds)
    report = {
        "checkpoint": {"path": str(args.checkpoint), "sha256": predictor.sha256},
        "part": args.part,
        "split_file": str(args.split_file),
        "precision": predictor.precision,
        "tta": args.tta,
        **report,
    }
    if args.external is not None:
        report["external"] = external_report(predictor, args.external, taxonomy, thresholds)
    if args.compare is not None or args.compare_tta is not None:
        other_tta = args.compare_tta or args.tta
        other, _ = load(args.compare or args.checkpoint, other_tta)
        images = [load_image(c.path) for c in cases]
        other_fine = other.predict_images(images, metadata=clinical(cases)).fine
        report["compare"] = {
            "checkpoint": {"path": str(args.compare or args.checkpoint), "sha256": other.sha256},
            "tta": other_tta,
            "tasks": compare_report(cases, fine, other_fine, taxonomy),
        }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(markdown(report))
    for name, levels in report.get("compare", {}).get("tasks", {}).items():
        d = levels["lesion"]
        lo, hi = d["difference_ci"]
        print(
            f"compare {name} (per lesion): {d['auc']:.4f} - {d['auc_other']:.4f} = "
            f"{d['difference']:+.4f} (95% CI {lo:+.4f} to {hi:+.4f}, p = {d['p']:.3f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
