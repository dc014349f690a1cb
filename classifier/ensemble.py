"""Pack trained checkpoints into one ensemble checkpoint, with its own validation thresholds
and held-out metrics.

    python -m classifier.ensemble --out classifier/models/ensemble.pt --half \\
        [--data ../shared/data/ham10000] [--split-file classifier/models/split.csv] \\
        [--name NAME] MEMBER.pt MEMBER.pt ...

An ensemble's probability is the mean of its members' softmax probabilities (Lakshminarayanan
et al., NeurIPS 2017; for dermoscopy: Perez et al. 2018, Mahbod et al. 2020), so every member
must see the same input and answer with the same outputs: the members must agree on input
size, source size, preprocessing, normalisation, outputs, taxonomy and data split (a member
whose training data held another member's test lesions would leak). A member that is itself
an ensemble brings all its members.

The packed file is a checkpoint like any other (the scoring app, ``classifier.evaluate`` and
``classifier.report`` take it as they are). Its operating points are chosen again on the
validation split by Youden's J, as training does, since the mean of the members' probabilities
is not calibrated like any one of them; its metrics hold the validation and test figures of the
ensemble and each member's name, sha256 and recipe.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from classifier import DEFAULT_SPLIT
from classifier.checkpoint import (
    Checkpoint,
    CheckpointError,
    build_network,
    file_sha256,
    load_checkpoint,
    save_checkpoint,
)
from classifier.data import load_image, read_ham10000, read_split
from classifier.predictor import Predictor
from classifier.taxonomy import load_taxonomy
from classifier.train.metrics import TASKS, auc, task_metrics, youden_thresholds

# What every member must share (ModelConfig fields), and the checkpoint's split seed.
SHARED_FIELDS = (
    "input_size",
    "source_size",
    "preprocess",
    "mean",
    "std",
    "class_names",
    "output_classes",
    "taxonomy_version",
)


def combine(checkpoints: Sequence[Checkpoint], sources: Sequence[str]) -> Checkpoint:
    """One ensemble checkpoint of ``checkpoints`` (metrics still to be measured); raises
    CheckpointError naming the member and the field where they disagree."""
    if len(checkpoints) < 2:
        raise CheckpointError("an ensemble needs at least two members")
    for checkpoint, source in zip(checkpoints, sources, strict=True):
        if checkpoint.config.metadata is not None:
            raise CheckpointError(
                f"{source}: it weighs the patient's details; pack the image models, then fit "
                "the details on the ensemble (python -m classifier.metadata)"
            )
    first = checkpoints[0]
    for checkpoint, source in zip(checkpoints[1:], sources[1:], strict=True):
        for name in SHARED_FIELDS:
            mine, theirs = getattr(checkpoint.config, name), getattr(first.config, name)
            if mine != theirs:
                raise CheckpointError(
                    f"{source}: {name} {mine!r} differs from {sources[0]}'s {theirs!r}"
                )
        if checkpoint.split_seed != first.split_seed:
            raise CheckpointError(
                f"{source}: split seed {checkpoint.split_seed} differs from {sources[0]}'s "
                f"{first.split_seed} (its training lesions may be another member's test lesions)"
            )
    members = tuple(arch for c in checkpoints for arch in c.config.members)
    arch = members[0] if len(set(members)) == 1 else "ensemble"
    return Checkpoint(
        config=dataclasses.replace(first.config, arch=arch, members=members),
        state_dicts=[state for c in checkpoints for state in c.state_dicts],
        data_summary=first.data_summary,
        split_seed=first.split_seed,
        recipe={
            "ensemble_of": [
                {"source": source, "name": c.name, "recipe": c.recipe}
                for c, source in zip(checkpoints, sources, strict=True)
            ]
        },
    )


def measure(
    checkpoint: Checkpoint, data: Path, split_file: Path, *, precision: str = "auto"
) -> dict[str, Any]:
    """Validation thresholds (Youden's J) and validation/test metrics of a checkpoint, on
    biopsy-proven images, as ``classifier.train`` records them."""
    taxonomy = load_taxonomy()
    split = read_split(split_file)
    cases = read_ham10000(data, taxonomy)
    predictor = Predictor(build_network(checkpoint), checkpoint.config, precision=precision)
    parts = {}
    for part in ("val", "test"):
        chosen = [c for c in cases if split.get(c.image_id) == part]
        fine = predictor.predict_images([load_image(c.path) for c in chosen]).fine
        parts[part] = (chosen, fine)
    thresholds = youden_thresholds(*parts["val"], taxonomy)
    return {
        "evaluated_on": "biopsy-proven images of each split unless the key says 'all nevi'",
        "thresholds": thresholds,
        "val": task_metrics(*parts["val"], taxonomy, thresholds),
        "test": task_metrics(*parts["test"], taxonomy, thresholds),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m classifier.ensemble", description=__doc__.split("\n")[0]
    )
    parser.add_argument("members", nargs="+", type=Path, help="member checkpoints")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--name", default="", help="model name (default: the members' names)")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ham10000"))
    parser.add_argument("--split-file", type=Path, default=DEFAULT_SPLIT)
    parser.add_argument("--half", action="store_true", help="store fp16 weights")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sources = [str(path) for path in args.members]
    try:
        checkpoints = [load_checkpoint(path) for path in args.members]
        ensemble = combine(checkpoints, sources)
    except CheckpointError as error:
        raise SystemExit(f"error: {error}") from None
    ensemble.name = args.name or " + ".join(
        c.name or s for c, s in zip(checkpoints, sources, strict=True)
    )
    for entry, path in zip(ensemble.recipe["ensemble_of"], args.members, strict=True):
        entry["sha256"] = file_sha256(path)
    ensemble.recipe["command"] = "python -m classifier.ensemble " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    ensemble.metrics = measure(ensemble, args.data, args.split_file, precision=args.precision)
    sha = save_checkpoint(ensemble, args.out, half=args.half)
    print(f"wrote {args.out} (sha256 {sha}, {len(ensemble.state_dicts)} members)")
    for part in ("val", "test"):
        line = ", ".join(f"{t} {auc(ensemble.metrics[part][t]):.4f}" for t in TASKS)
        print(f"{part}: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
