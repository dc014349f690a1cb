"""The patient's age and sex beside the image: a second variant of a trained model (issue 22
item 5; Haenssle et al., Ann Oncol 2018, "level II": dermoscopy plus clinical information).

The image network stays as it is. A small head moves its class log-probabilities by what the
patient's age and sex say of each class:

    log P(class | image, patient) = a * log P_cnn(class | image) + x(patient) . W[:, class]
                                    + b[class] + const

a multinomial logistic regression on the patient's features with the network's
log-probabilities as an offset (stacking, Wolpert 1992; the simplest late fusion of metadata, as
in Pacheco & Krohling 2020 and Gessert et al. 2020). It is fitted on the validation split,
whose lesions the network never trained on; the features and the L2 penalty are chosen by
5-fold cross-validation on that split with the folds split by lesion (the mean of the two
Esteva tasks' AUCs on biopsy-proven images, as training selects), and the held-out test split
is only measured. The thresholds come from the cross-validated probabilities of the
validation split, so they were not fitted on the images they are read on.

    python -m classifier.metadata --checkpoint classifier/models/default.pt \\
        --data ../shared/data/ham10000 --split-file classifier/models/split.csv \\
        --out classifier/models/default-metadata.pt --half

A reader study whose algorithm uses the patient's details must show them to the readers too:
the platform scores with such a model only studies that show clinical information.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classifier import DEFAULT_SPLIT
from classifier.checkpoint import (
    Checkpoint,
    CheckpointError,
    build_network,
    load_checkpoint,
    save_checkpoint,
)
from classifier.clinical import FEATURE_SETS, ClinicalInfo, MetadataHead, encode, log_probabilities
from classifier.data import Case, load_image, read_ham10000, read_split
from classifier.predictor import Predictor
from classifier.taxonomy import Taxonomy, load_taxonomy
from classifier.train.metrics import (
    SELECTION_TASKS,
    auc,
    metrics_or_none,
    task_metrics,
    youden_thresholds,
)

# Candidates of the cross-validation: the feature sets and the L2 penalties on W.
PENALTIES = (1e-3, 1e-2, 1e-1)
FOLDS = 5


def fit_head(
    fine: np.ndarray,
    labels: np.ndarray,
    infos: Sequence[ClinicalInfo],
    features: Sequence[str],
    penalty: float,
) -> MetadataHead:
    """Maximum penalised likelihood (L-BFGS, float64) of the head on images whose training
    class index is ``labels``; ``penalty`` is the L2 weight on W (the evidence scale a and the
    biases are not penalised)."""
    offset = torch.tensor(log_probabilities(fine))
    x = torch.tensor(encode(features, infos))
    target = torch.tensor(np.asarray(labels, dtype=np.int64))
    n_classes = offset.shape[1]
    weights = torch.zeros(len(features), n_classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    evidence = torch.ones((), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS(
        [weights, bias, evidence], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        logits = evidence * offset + x @ weights + bias
        loss = torch.nn.functional.cross_entropy(logits, target) + penalty * weights.pow(2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    optimiser.step(closure)  # type: ignore[no-untyped-call]
    return MetadataHead(
        features=tuple(features),
        weights=tuple(tuple(float(v) for v in row) for row in weights.detach().numpy()),
        bias=tuple(float(v) for v in bias.detach().numpy()),
        evidence=float(evidence.detach()),
    )


def lesion_folds(cases: Sequence[Case], folds: int = FOLDS) -> list[np.ndarray]:
    """``folds`` disjoint index sets, every image of a lesion in one of them: lesions in
    order of their first image, dealt out in turn (deterministic)."""
    order: dict[str, int] = {}
    for case in cases:
        order.setdefault(case.lesion_id, len(order))
    fold_of = np.array([order[case.lesion_id] % folds for case in cases])
    return [np.flatnonzero(fold_of == k) for k in range(folds)]


def cross_validated(
    cases: Sequence[Case],
    fine: np.ndarray,
    labels: np.ndarray,
    features: Sequence[str],
    penalty: float,
) -> np.ndarray:
    """Each image's probabilities from the head fitted on the other folds' lesions."""
    infos = [case.clinical for case in cases]
    out = np.zeros_like(np.asarray(fine, dtype=np.float64))
    for held in lesion_folds(cases):
        rest = np.setdiff1d(np.arange(len(cases)), held)
        head = fit_head(fine[rest], labels[rest], [infos[i] for i in rest], features, penalty)
        out[held] = head.apply(fine[held], [infos[i] for i in held])
    return out


def selection_score(cases: Sequence[Case], fine: np.ndarray, taxonomy: Taxonomy) -> float:
    """The mean AUC of the Esteva tasks on biopsy-proven images (what training selects on)."""
    return float(
        np.mean(
            [
                auc(metrics_or_none(cases, fine, taxonomy, name, biopsy_proven_only=True))
                for name in SELECTION_TASKS
            ]
        )
    )


def select_head(
    cases: Sequence[Case], fine: np.ndarray, class_names: Sequence[str], taxonomy: Taxonomy
) -> tuple[MetadataHead, np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    """The head of the best candidate by cross-validation on ``cases`` (refitted on all of
    them), the winner's cross-validated probabilities, every candidate's score, and the
    winner's row of them; ``class_names`` are the columns of ``fine``."""
    class_names = list(class_names)
    labels = np.array([class_names.index(case.diagnosis) for case in cases])
    table: list[dict[str, Any]] = [
        {"features": "none", "penalty": None, "cv_auc": selection_score(cases, fine, taxonomy)}
    ]
    best: tuple[dict[str, Any], np.ndarray] | None = None
    for name, features in FEATURE_SETS.items():
        for penalty in PENALTIES:
            probabilities = cross_validated(cases, fine, labels, features, penalty)
            row = {
                "features": name,
                "penalty": penalty,
                "cv_auc": selection_score(cases, probabilities, taxonomy),
            }
            table.append(row)
            if best is None or row["cv_auc"] > best[0]["cv_auc"]:
                best = (row, probabilities)
    assert best is not None
    chosen, probabilities = best
    head = fit_head(
        fine,
        labels,
        [case.clinical for case in cases],
        FEATURE_SETS[chosen["features"]],
        chosen["penalty"],
    )
    return head, probabilities, table, chosen


def with_head(checkpoint: Checkpoint, head: MetadataHead) -> Checkpoint:
    """``checkpoint`` whose predictions weigh the patient's details with ``head``."""
    if checkpoint.config.metadata is not None:
        raise CheckpointError("the model already reads the patient's details")
    return dataclasses.replace(
        checkpoint, config=dataclasses.replace(checkpoint.config, metadata=head)
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m classifier.metadata", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--checkpoint", type=Path, required=True, help="the image model")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ham10000"))
    parser.add_argument("--split-file", type=Path, default=DEFAULT_SPLIT)
    parser.add_argument("--out", type=Path, required=True, help="the checkpoint to write")
    parser.add_argument("--name", default="", help="default: the model's name + '-metadata'")
    parser.add_argument("--half", action="store_true", help="store fp16 weights in --out")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    taxonomy = load_taxonomy()
    try:
        checkpoint = load_checkpoint(args.checkpoint)
        if checkpoint.config.metadata is not None:
            raise CheckpointError(f"{args.checkpoint}: the model already reads the details")
    except CheckpointError as error:
        raise SystemExit(f"error: {error}") from None
    split = read_split(args.split_file)
    cases = read_ham10000(args.data, taxonomy)
    predictor = Predictor(build_network(checkpoint), checkpoint.config)
    parts = {}
    for part in ("val", "test"):
        part_cases = [c for c in cases if split.get(c.image_id) == part]
        if not part_cases:
            raise SystemExit(f"error: no images of the {part} split in {args.data}")
        images = [load_image(c.path) for c in part_cases]
        parts[part] = (part_cases, predictor.predict_images(images).fine)
        print(f"{part}: {len(part_cases)} images scored", file=sys.stderr, flush=True)
    val_cases, val_fine = parts["val"]
    head, val_cv, table, chosen = select_head(
        val_cases, val_fine, checkpoint.config.class_names, taxonomy
    )
    test_cases, test_fine = parts["test"]
    test_fine = head.apply(test_fine, [c.clinical for c in test_cases])
    thresholds = youden_thresholds(val_cases, val_cv, taxonomy)
    command = " ".join(["python -m classifier.metadata", *(argv or sys.argv[1:])])
    result = dataclasses.replace(
        with_head(checkpoint, head),
        name=args.name or f"{checkpoint.name}-metadata",
        metrics={
            "evaluated_on": "biopsy-proven images of each split unless the key says 'all nevi'; "
            "val: the cross-validated probabilities of the head (folds by lesion)",
            "thresholds": thresholds,
            "val": task_metrics(val_cases, val_cv, taxonomy, thresholds),
            "test": task_metrics(test_cases, test_fine, taxonomy, thresholds),
            "image_model_test": checkpoint.metrics.get("test", {}),
        },
        recipe={
            **checkpoint.recipe,
            "metadata": {
                "image_model": checkpoint.name,
                "fitted_on": "val",
                "selection": f"{FOLDS}-fold cross-validation on val, folds by lesion, "
                "mean AUC of " + " and ".join(SELECTION_TASKS) + " (biopsy-proven)",
                "candidates": table,
                "chosen": {"features": chosen["features"], "penalty": chosen["penalty"]},
                "command": command,
            },
        },
    )
    sha256 = save_checkpoint(result, args.out, half=args.half)
    for row in table:
        print(
            f"  {row['features']:<14} penalty {row['penalty']!s:<6} cv AUC {row['cv_auc']:.4f}",
            file=sys.stderr,
        )
    for name in SELECTION_TASKS:
        before = checkpoint.metrics.get("test", {}).get(name) or {}
        after = result.metrics["test"][name]
        print(
            f"test {name}: AUC {after['auc']:.3f} "
            f"({after['auc_ci'][0]:.3f}-{after['auc_ci'][1]:.3f}), "
            f"image model {before.get('auc', float('nan')):.3f}"
        )
    print(f"wrote {args.out} (sha256 {sha256[:12]}): features {chosen['features']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
