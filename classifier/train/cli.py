"""Fine-tune an ImageNet CNN on HAM10000 (Esteva et al. 2017: fine-tune end to end on the
fine training classes; the tasks sum them).

    python -m classifier.train --data ../shared/data/ham10000 --arch efficientnet_lite0 \\
        --epochs 12 --out runs/lite0/model.pt

Recipe: a lesion-level train/val/test split with a fixed seed (written to ``--split``, reused
when it exists); class-balanced sampling (each class drawn in proportion to count**(1 - power),
power 0.5 by default) and/or class-weighted cross-entropy with label smoothing; AdamW with
linear warm-up and a cosine schedule (Loshchilov & Hutter, ICLR 2017/2019); an exponential
moving average of the weights (Polyak averaging) that is what gets evaluated and shipped;
bf16 autocast + channels_last on CPUs with hardware bf16 (depthwise convolutions stay fp32:
their bf16 backward is slow on CPU), AMP on CUDA. Optional: preprocessing steps that training
and every prediction apply alike (``--preprocess crop_border,shades_of_gray``, recorded in the
checkpoint), a slight blur and one cutout (``--blur``, ``--cutout``: probabilities), and a loss
weight for biopsy-proven images (``--biopsy-weight``; Gessert et al., IEEE TBME 2020). The
run's state is saved after every epoch in ``--workdir`` and ``--resume`` continues from it bit
for bit. Held-out metrics are measured on
biopsy-proven cases only.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from classifier.data import ManifestError
from classifier.imaging import PREPROCESS_STEPS, check_preprocess
from classifier.train.config import TrainConfig, field_defaults
from classifier.train.trainer import Trainer


def _size(text: str) -> tuple[int, int]:
    height, _, width = text.lower().partition("x")
    return (int(height), int(width or height))


def _steps(text: str) -> tuple[str, ...]:
    try:
        return check_preprocess([step.strip() for step in text.split(",") if step.strip()])
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    defaults = field_defaults()  # TrainConfig holds the one copy of each default
    p = argparse.ArgumentParser(
        prog="python -m classifier.train", description=__doc__.split("\n")[0]
    )
    p.add_argument("--data", type=Path, required=True, help="HAM10000 directory")
    p.add_argument("--arch", default=defaults["arch"])
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--out", type=Path, required=True, help="the checkpoint to write")
    p.add_argument(
        "--input-size", type=_size, default=defaults["input_size"], help="HxW (default 150x200)"
    )
    p.add_argument("--batch-size", type=int, default=defaults["batch_size"])
    p.add_argument("--lr", type=float, default=defaults["lr"])
    p.add_argument("--min-lr", type=float, default=defaults["min_lr"])
    p.add_argument("--weight-decay", type=float, default=defaults["weight_decay"])
    p.add_argument("--warmup-epochs", type=float, default=defaults["warmup_epochs"])
    p.add_argument("--label-smoothing", type=float, default=defaults["label_smoothing"])
    p.add_argument("--drop-path", type=float, default=defaults["drop_path"])
    p.add_argument(
        "--ema-decay", type=float, default=defaults["ema_decay"], help="0 disables the weight EMA"
    )
    p.add_argument(
        "--sampling-power",
        type=float,
        default=defaults["sampling_power"],
        help="draw images with weight count(class)**-power (0: natural, 1: balanced)",
    )
    p.add_argument(
        "--loss-weight-power",
        type=float,
        default=defaults["loss_weight_power"],
        help="cross-entropy class weights count(class)**-power (0: unweighted)",
    )
    p.add_argument(
        "--epoch-size",
        type=int,
        default=defaults["epoch_size"],
        help="images per epoch (0: the train split)",
    )
    p.add_argument(
        "--biopsied-nevi-class",
        action="store_true",
        help="train biopsy-proven nevi as their own output, summed into nv",
    )
    p.add_argument(
        "--freeze-stages",
        type=int,
        default=defaults["freeze_stages"],
        help="EfficientNet: keep the stem and the first N stages at their ImageNet "
        "weights and statistics (their backward is the costliest part on a CPU)",
    )
    p.add_argument("--no-box-crop", action="store_true", help="crop without the lesion boxes")
    p.add_argument(
        "--preprocess",
        type=_steps,
        default=defaults["preprocess"],
        help=f"comma-separated steps applied in training and every prediction, of "
        f"{', '.join(PREPROCESS_STEPS)} (recorded in the checkpoint)",
    )
    p.add_argument(
        "--blur", type=float, default=defaults["blur"], help="probability of a slight blur"
    )
    p.add_argument(
        "--cutout", type=float, default=defaults["cutout"], help="probability of one cutout"
    )
    p.add_argument(
        "--biopsy-weight",
        type=float,
        default=defaults["biopsy_weight"],
        help="loss weight of biopsy-proven images, the others weighing 1 (Gessert et al. 2020)",
    )
    p.add_argument(
        "--pretrained",
        default=defaults["pretrained"],
        help="'imagenet' (offline weights), 'none', or an ImageNet state_dict file",
    )
    p.add_argument(
        "--split",
        type=Path,
        default=defaults["split"],
        help="split CSV: read when it exists, else written (default: beside --out)",
    )
    p.add_argument("--split-seed", type=int, default=defaults["split_seed"])
    p.add_argument(
        "--seed",
        type=int,
        default=defaults["seed"],
        help="training seed (init of the head, sampling)",
    )
    p.add_argument(
        "--select",
        choices=("last", "best"),
        default=defaults["select"],
        help="ship the last epoch or the epoch with the best validation AUC",
    )
    p.add_argument(
        "--max-train-images",
        type=int,
        default=defaults["max_train_images"],
        help="use a subset (smoke tests)",
    )
    p.add_argument(
        "--max-eval-images",
        type=int,
        default=defaults["max_eval_images"],
        help="use a subset (smoke tests)",
    )
    p.add_argument("--device", default=defaults["device"])
    p.add_argument(
        "--precision", default=defaults["precision"], choices=("auto", "fp32", "bf16", "fp16")
    )
    p.add_argument("--threads", type=int, default=defaults["threads"])
    p.add_argument(
        "--loader-workers",
        type=int,
        default=defaults["loader_workers"],
        help="processes that augment images (0: in the training process)",
    )
    p.add_argument(
        "--augment-on",
        choices=("loader", "device"),
        default=defaults["augment_on"],
        help="'device': decode the training images once onto --device and augment each batch "
        "there (the same augmentations; on a GPU the loader no longer limits the run)",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        default=defaults["workdir"],
        help="resumable state (default: OUT.state/)",
    )
    p.add_argument("--resume", action="store_true", help="continue the run saved in --workdir")
    p.add_argument("--half", action="store_true", help="store fp16 weights in --out")
    p.add_argument("--name", default=defaults["name"], help="model name recorded in the checkpoint")
    p.add_argument(
        "--test-metrics",
        action=argparse.BooleanOptionalAction,
        default=defaults["test_metrics"],
        help="measure the held-out test split at the end",
    )
    return p


def config_from_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """The run the command line asks for (one TrainConfig field per option)."""
    return TrainConfig(**vars(_parser().parse_args(argv)))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    config = config_from_args(argv)
    torch.set_num_threads(config.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(config.threads))
    try:
        trainer = Trainer(config)
    except ManifestError as error:
        # Bad or missing data: one line that names the file, not a traceback.
        raise SystemExit(f"error: {error}") from None
    trainer.run()
    return 0
