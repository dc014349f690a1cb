"""Fine-tune an ImageNet CNN on HAM10000 (Esteva et al. 2017: fine-tune end to end on the
fine training classes; the tasks sum them).

    python -m classifier.train --data ../shared/data/ham10000 --arch efficientnet_lite0 \\
        --epochs 12 --out runs/lite0/model.pt

Recipe: a lesion-level train/val/test split with a fixed seed (written to ``--split``, reused
when it exists); class-balanced sampling (each class drawn in proportion to count**(1 - power),
power 0.5 by default) and/or class-weighted cross-entropy with label smoothing; AdamW with
linear warm-up and a cosine schedule (Loshchilov & Hutter, ICLR 2017/2019); an exponential
moving average of the weights (Polyak averaging) that is what gets evaluated and shipped;
bf16 autocast + channels_last on CPUs with hardware bf16 (depthwise convolutions stay fp32: their
bf16 backward is slow on CPU), AMP on CUDA. The run's state is saved after every epoch in
``--workdir`` and ``--resume`` continues from it bit for bit. Held-out metrics are measured on
biopsy-proven cases only.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from classifier.architectures import arch_spec, build_model
from classifier.checkpoint import Checkpoint, ModelConfig, save_checkpoint
from classifier.data import (
    Case,
    ManifestError,
    load_image,
    read_ham10000,
    read_split,
    split_lesions,
    write_split,
)
from classifier.evaluate import evaluate_scores, youden_threshold
from classifier.predictor import Predictor, autocast, resolve_device, resolve_precision
from classifier.taxonomy import Taxonomy, load_taxonomy
from classifier.transforms import Augmentation, TrainTransform
from readerstudy.stats.roc import RocInputError

TASKS = ("melanoma-vs-nevus", "carcinoma-vs-keratosis", "malignant-vs-benign")
SELECTION_TASKS = ("melanoma-vs-nevus", "carcinoma-vs-keratosis")
BIOPSIED_NEVUS = "nv:biopsied"
DATA_LICENCE = "CC BY-NC 4.0 (Tschandl, Rosendahl & Kittler, Sci Data 2018, doi:10.7910/DVN/DBW86T)"


def _size(text: str) -> tuple[int, int]:
    height, _, width = text.lower().partition("x")
    return (int(height), int(width or height))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m classifier.train", description=__doc__.split("\n")[0]
    )
    p.add_argument("--data", type=Path, required=True, help="HAM10000 directory")
    p.add_argument("--arch", default="efficientnet_lite0")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--out", type=Path, required=True, help="the checkpoint to write")
    p.add_argument("--input-size", type=_size, default=(150, 200), help="HxW (default 150x200)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=6e-4)
    p.add_argument("--min-lr", type=float, default=1e-6)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--drop-path", type=float, default=0.1)
    p.add_argument("--ema-decay", type=float, default=0.999, help="0 disables the weight EMA")
    p.add_argument(
        "--sampling-power",
        type=float,
        default=0.5,
        help="draw images with weight count(class)**-power (0: natural, 1: balanced)",
    )
    p.add_argument(
        "--loss-weight-power",
        type=float,
        default=0.0,
        help="cross-entropy class weights count(class)**-power (0: unweighted)",
    )
    p.add_argument(
        "--epoch-size", type=int, default=0, help="images per epoch (0: the train split)"
    )
    p.add_argument(
        "--biopsied-nevi-class",
        action="store_true",
        help="train biopsy-proven nevi as their own output, summed into nv",
    )
    p.add_argument(
        "--freeze-stages",
        type=int,
        default=0,
        help="EfficientNet: keep the stem and the first N stages at their ImageNet "
        "weights and statistics (their backward is the costliest part on a CPU)",
    )
    p.add_argument("--no-box-crop", action="store_true", help="crop without the lesion boxes")
    p.add_argument(
        "--pretrained",
        default="imagenet",
        help="'imagenet' (offline weights), 'none', or an ImageNet state_dict file",
    )
    p.add_argument(
        "--split",
        type=Path,
        default=None,
        help="split CSV: read when it exists, else written (default: beside --out)",
    )
    p.add_argument("--split-seed", type=int, default=20240601)
    p.add_argument("--seed", type=int, default=0, help="training seed (init of the head, sampling)")
    p.add_argument(
        "--select",
        choices=("last", "best"),
        default="last",
        help="ship the last epoch or the epoch with the best validation AUC",
    )
    p.add_argument("--max-train-images", type=int, default=0, help="use a subset (smoke tests)")
    p.add_argument("--max-eval-images", type=int, default=0, help="use a subset (smoke tests)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--loader-workers",
        type=int,
        default=0,
        help="processes that augment images (0: in the training process)",
    )
    p.add_argument(
        "--workdir", type=Path, default=None, help="resumable state (default: OUT.state/)"
    )
    p.add_argument("--resume", action="store_true", help="continue the run saved in --workdir")
    p.add_argument("--half", action="store_true", help="store fp16 weights in --out")
    p.add_argument("--name", default="", help="model name recorded in the checkpoint")
    p.add_argument(
        "--test-metrics",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure the held-out test split at the end",
    )
    return p


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def training_label(case: Case, taxonomy: Taxonomy, biopsied_nevi_class: bool) -> str:
    """The network output a case trains as: its training class, or ``nv:biopsied`` for a
    biopsy-proven nevus when that output exists."""
    training_class = taxonomy.diagnoses[case.diagnosis].training_class
    if biopsied_nevi_class and training_class == "nv" and case.biopsy_proven:
        return BIOPSIED_NEVUS
    return training_class


def data_summary(cases: Sequence[Case], split: dict[str, str], data_dir: Path) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "dataset": "HAM10000 (200x150 downscaled copy)",
        "path": str(data_dir),
        "licence": DATA_LICENCE,
        "n_images": len(cases),
        "n_lesions": len({c.lesion_id for c in cases}),
    }
    for part in ("train", "val", "test"):
        chosen = [c for c in cases if split[c.image_id] == part]
        summary[part] = {
            "images": len(chosen),
            "lesions": len({c.lesion_id for c in chosen}),
            "diagnoses": dict(sorted(Counter(c.diagnosis for c in chosen).items())),
            "biopsy_proven": dict(
                sorted(Counter(c.diagnosis for c in chosen if c.biopsy_proven).items())
            ),
        }
    return summary


def make_or_read_split(cases: Sequence[Case], path: Path, seed: int) -> dict[str, str]:
    """image_id -> split, from ``path`` when it exists (it must cover every case), else a new
    lesion-level split written to ``path``."""
    if path.exists():
        split = read_split(path)
        missing = [c.image_id for c in cases if c.image_id not in split]
        if missing:
            raise SystemExit(
                f"{path}: split has no entry for {len(missing)} images, e.g. {missing[:3]}"
            )
        return split
    by_lesion = split_lesions(cases, seed)
    write_split(path, cases, by_lesion)
    return {c.image_id: by_lesion[c.lesion_id] for c in cases}


def cosine_schedule(step: int, total: int, warmup: int, base: float, minimum: float) -> float:
    """Linear warm-up then cosine decay to ``minimum`` (SGDR without restarts)."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return minimum + 0.5 * (base - minimum) * (1 + math.cos(math.pi * progress))


def frozen_modules(model: nn.Module, stages: int) -> list[nn.Module]:
    """The stem and the first ``stages`` stages of an EfficientNet (none when 0)."""
    if stages <= 0:
        return []
    blocks = getattr(model, "blocks", None)
    if blocks is None:
        raise SystemExit("--freeze-stages works for EfficientNet-Lite only")
    return [model.conv_stem, model.bn1, *list(blocks)[:stages]]


def keep_depthwise_fp32(model: nn.Module) -> None:
    """Run depthwise convolutions in fp32 under CPU autocast: their bf16 backward is 2-4x
    slower than fp32 on CPUs (issue 4), the rest gains from bf16."""
    for module in model.modules():
        if (
            isinstance(module, nn.Conv2d)
            and module.groups > 1
            and module.groups == module.in_channels
        ):
            original = module.forward

            def forward(x: torch.Tensor, _original: Any = original) -> torch.Tensor:
                with torch.autocast("cpu", enabled=False):
                    return _original(x.float())  # type: ignore[no-any-return]

            module.forward = forward  # type: ignore[method-assign,assignment]


def _metrics_or_none(
    cases: Sequence[Case],
    fine: np.ndarray,
    taxonomy: Taxonomy,
    task: str,
    *,
    biopsy_proven_only: bool,
    threshold: float | None = None,
) -> dict[str, Any] | None:
    """A task's metrics, or None when the cases lack a positive or a negative (tiny runs)."""
    try:
        return evaluate_scores(
            cases,
            fine,
            taxonomy,
            taxonomy.task(task),
            biopsy_proven_only=biopsy_proven_only,
            threshold=threshold,
        )
    except (RocInputError, ValueError):
        return None


def _auc(metrics: dict[str, Any] | None) -> float:
    return float("nan") if metrics is None else float(metrics["auc"])


class _EpochSamples(torch.utils.data.Dataset[tuple[torch.Tensor, int]]):
    """The augmented images of one epoch, in its sampled order. Each draw seeds ``random``
    from (seed, epoch, position), so the augmentations are the same whichever process makes
    them and however many loader workers there are."""

    def __init__(
        self,
        images: Sequence[Any],
        cases: Sequence[Case],
        transform: TrainTransform,
        order: torch.Tensor,
        seed: int,
    ) -> None:
        self.images, self.cases, self.transform = images, cases, transform
        self.order = order.tolist()
        self.seed = seed

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, position: int) -> tuple[torch.Tensor, int]:
        index = self.order[position]
        random.seed(self.seed * 1_000_003 + position)
        return self.transform(self.images[index], self.cases[index].box), index


class Trainer:
    """One training run; its state (weights, EMA, optimiser, RNGs, history) is a dict that
    ``save_state``/``load_state`` write after every epoch."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.taxonomy = load_taxonomy()
        self.device = resolve_device(args.device)
        self.precision = resolve_precision(args.precision, self.device)
        spec = arch_spec(args.arch)
        outputs = list(self.taxonomy.training_classes)
        if args.biopsied_nevi_class:
            outputs.append(BIOPSIED_NEVUS)
        self.config = ModelConfig(
            arch=args.arch,
            input_size=tuple(args.input_size),
            mean=spec.mean,
            std=spec.std,
            class_names=self.taxonomy.training_classes,
            taxonomy_version=self.taxonomy.version,
            output_classes=tuple(outputs),
        )
        cases = read_ham10000(args.data, self.taxonomy)
        split_path = args.split or args.out.parent / "split.csv"
        self.split_path = split_path
        self.split = make_or_read_split(cases, split_path, args.split_seed)
        self.summary = data_summary(cases, self.split, args.data)
        self.train_cases = [c for c in cases if self.split[c.image_id] == "train"]
        self.val_cases = [c for c in cases if self.split[c.image_id] == "val"]
        self.test_cases = [c for c in cases if self.split[c.image_id] == "test"]
        if args.max_train_images:
            self.train_cases = random.Random(0).sample(self.train_cases, args.max_train_images)
        if args.max_eval_images:
            self.val_cases = random.Random(1).sample(self.val_cases, args.max_eval_images)
            self.test_cases = random.Random(2).sample(self.test_cases, args.max_eval_images)
        labels = [
            training_label(c, self.taxonomy, args.biopsied_nevi_class) for c in self.train_cases
        ]
        self.targets = torch.tensor([outputs.index(label) for label in labels])
        counts = Counter(labels)
        self.class_counts = {o: counts.get(o, 0) for o in outputs}
        count_per_image = torch.tensor([counts[label] for label in labels], dtype=torch.float64)
        self.sample_weights = count_per_image.pow(-args.sampling_power)
        loss_weights = torch.tensor(
            [max(self.class_counts[o], 1) ** -args.loss_weight_power for o in outputs],
            dtype=torch.float32,
        )
        loss_weights *= len(outputs) / loss_weights.sum()
        self.criterion = nn.CrossEntropyLoss(
            weight=loss_weights.to(self.device), label_smoothing=args.label_smoothing
        )
        self.transform = TrainTransform(self.config, Augmentation(box_guided=not args.no_box_crop))

        seed_everything(args.seed)
        pretrained: bool | str = {"imagenet": True, "none": False}.get(
            args.pretrained, args.pretrained
        )
        self.model = build_model(
            args.arch, len(outputs), pretrained=pretrained, drop_path_rate=args.drop_path
        ).to(self.device)
        self.model.to(memory_format=torch.channels_last)
        self.frozen = frozen_modules(self.model, args.freeze_stages)
        for module in self.frozen:
            for parameter in module.parameters():
                parameter.requires_grad_(False)
        self.ema = copy.deepcopy(self.model).eval() if args.ema_decay > 0 else None
        if self.ema is not None:
            for parameter in self.ema.parameters():
                parameter.requires_grad_(False)
        if self.precision == "bf16" and self.device.type == "cpu":
            keep_depthwise_fp32(self.model)
        decay: list[nn.Parameter] = []
        no_decay: list[nn.Parameter] = []
        for parameter in self.model.parameters():
            if parameter.requires_grad:
                (no_decay if parameter.ndim <= 1 else decay).append(parameter)
        self.optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": args.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=args.lr,
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16")
        self.epoch_size = args.epoch_size or len(self.train_cases)
        self.steps_per_epoch = self.epoch_size // args.batch_size
        self.total_steps = self.steps_per_epoch * args.epochs
        self.warmup_steps = round(args.warmup_epochs * self.steps_per_epoch)
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        print(f"loading {len(self.train_cases)} training images", file=sys.stderr)
        self.train_images = [load_image(c.path) for c in self.train_cases]

    # -- state ----------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history,
            "best": self.best,
            "rng": {
                "python": random.getstate(),
                "numpy": np.random.get_state(),
                "torch": torch.get_rng_state(),
            },
            "args": {k: str(v) for k, v in vars(self.args).items()},
        }

    def save_state(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        torch.save(self.state(), temporary)
        temporary.replace(path)

    def load_state(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(state["model"])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step = state["epoch"], state["step"]
        self.history, self.best = state["history"], state["best"]
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy"])
        torch.set_rng_state(state["rng"]["torch"])

    # -- training -------------------------------------------------------------------------
    def train_epoch(self) -> dict[str, float]:
        args = self.args
        self.model.train()
        for module in self.frozen:
            module.eval()
        generator = torch.Generator().manual_seed(args.seed * 100_003 + self.epoch)
        order = torch.multinomial(
            self.sample_weights, self.epoch_size, replacement=True, generator=generator
        )
        samples = _EpochSamples(
            self.train_images,
            self.train_cases,
            self.transform,
            order,
            seed=args.seed * 100_003 + self.epoch,
        )
        loader = torch.utils.data.DataLoader(
            samples,
            batch_size=args.batch_size,
            shuffle=False,
            drop_last=True,
            num_workers=args.loader_workers,
            pin_memory=self.device.type == "cuda",
        )
        losses: list[float] = []
        started = time.perf_counter()
        bar = tqdm(
            loader,
            desc=f"epoch {self.epoch + 1}/{args.epochs}",
            mininterval=1.0 if sys.stderr.isatty() else 60.0,
            file=sys.stderr,
        )
        for images, indices in bar:
            x = images.to(self.device, memory_format=torch.channels_last, non_blocking=True)
            y = self.targets[indices].to(self.device, non_blocking=True)
            lr = cosine_schedule(
                self.step, self.total_steps, self.warmup_steps, args.lr, args.min_lr
            )
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            with autocast(self.device, self.precision):
                logits = self.model(x)
            loss = self.criterion(logits.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
            self._update_ema()
            losses.append(loss.item())
            seen = len(losses) * args.batch_size
            bar.set_postfix(
                loss=f"{np.mean(losses[-50:]):.3f}",
                lr=f"{lr:.2e}",
                ips=f"{seen / (time.perf_counter() - started):.1f}",
                refresh=False,
            )
        elapsed = time.perf_counter() - started
        return {
            "train_loss": float(np.mean(losses)) if losses else float("nan"),
            "train_images_per_s": len(losses) * args.batch_size / max(elapsed, 1e-9),
            "train_seconds": elapsed,
        }

    def _update_ema(self) -> None:
        if self.ema is None:
            return
        # Warm-up (as timm's ModelEmaV3): a young average forgets its random start faster.
        decay = min(self.args.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for ema_v, model_v in zip(
                self.ema.state_dict().values(), self.model.state_dict().values(), strict=True
            ):
                if ema_v.is_floating_point():
                    ema_v.lerp_(model_v.detach(), 1 - decay)
                else:
                    ema_v.copy_(model_v)

    def evaluated_network(self) -> nn.Module:
        return self.ema if self.ema is not None else self.model

    def predict(
        self, network: nn.Module, cases: Sequence[Case], *, tta: bool = False
    ) -> np.ndarray:
        predictor = Predictor(
            copy.deepcopy(network), self.config, device=self.device, precision="fp32", tta=tta
        )
        images = [load_image(c.path) for c in cases]
        return predictor.predict_images(images, batch_size=64).fine

    def task_metrics(
        self,
        cases: Sequence[Case],
        fine: np.ndarray,
        thresholds: dict[str, float] | None = None,
    ) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        for name in TASKS:
            threshold = (thresholds or {}).get(name)
            metrics[name] = _metrics_or_none(
                cases, fine, self.taxonomy, name, biopsy_proven_only=True, threshold=threshold
            )
        metrics["melanoma-vs-nevus (all nevi)"] = _metrics_or_none(
            cases, fine, self.taxonomy, "melanoma-vs-nevus", biopsy_proven_only=False
        )
        return metrics

    def run(self) -> Path:
        args = self.args
        workdir = args.workdir or args.out.with_name(args.out.name + ".state")
        state_path = workdir / "last.pt"
        if args.resume and state_path.exists():
            self.load_state(state_path)
            print(
                f"resumed at epoch {self.epoch} (step {self.step}) from {state_path}",
                file=sys.stderr,
            )
        log_path = workdir / "log.jsonl"
        workdir.mkdir(parents=True, exist_ok=True)
        while self.epoch < args.epochs:
            record = self.train_epoch()
            self.epoch += 1
            network = self.evaluated_network()
            fine = self.predict(network, self.val_cases)
            val = self.task_metrics(self.val_cases, fine)
            selection = float(np.mean([_auc(val[t]) for t in SELECTION_TASKS]))
            record.update(
                {
                    "epoch": self.epoch,
                    "step": self.step,
                    "val_selection_auc": selection,
                    **{f"val_{t}_auc": _auc(val[t]) for t in val},
                }
            )
            self.history.append(record)
            improved = self.best is None or selection > self.best["selection"]
            if args.select == "best" and improved:
                self.best = {
                    "selection": selection,
                    "epoch": self.epoch,
                    "weights": copy.deepcopy(network.state_dict()),
                }
            with open(log_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            print(json.dumps(record), file=sys.stderr)
            self.save_state(state_path)
        return self.finish()

    def finish(self) -> Path:
        args = self.args
        network = self.evaluated_network()
        chosen_epoch = self.epoch
        if args.select == "best" and self.best is not None:
            network.load_state_dict(self.best["weights"])
            chosen_epoch = self.best["epoch"]
        val_fine = self.predict(network, self.val_cases)
        thresholds = {}
        for name in TASKS:
            task = self.taxonomy.task(name)
            keep = [
                i
                for i, c in enumerate(self.val_cases)
                if task.truth(c.diagnosis) is not None and c.biopsy_proven
            ]
            truth = np.array([task.truth(self.val_cases[i].diagnosis) for i in keep])
            if len(set(truth.tolist())) == 2:
                scores = self.taxonomy.task_probability(val_fine[keep], task)
                thresholds[name] = youden_threshold(truth, scores)
        metrics: dict[str, Any] = {
            "evaluated_on": "biopsy-proven images of each split unless the key says 'all nevi'",
            "epoch": chosen_epoch,
            "thresholds": thresholds,
            "val": self.task_metrics(self.val_cases, val_fine, thresholds),
            "history": self.history,
        }
        if args.test_metrics:
            test_fine = self.predict(network, self.test_cases)
            metrics["test"] = self.task_metrics(self.test_cases, test_fine, thresholds)
            test_tta = self.predict(network, self.test_cases, tta=True)
            metrics["test_tta"] = self.task_metrics(self.test_cases, test_tta, thresholds)
        recipe = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        recipe["command"] = "python -m classifier.train " + " ".join(sys.argv[1:])
        recipe["precision_used"] = self.precision
        recipe["class_counts_train"] = self.class_counts
        checkpoint = Checkpoint(
            config=self.config,
            state_dicts=[network.state_dict()],
            metrics=metrics,
            data_summary=self.summary,
            split_seed=args.split_seed,
            name=args.name or f"{args.arch}-ham10000-{args.input_size[0]}x{args.input_size[1]}",
            recipe=recipe,
        )
        sha = save_checkpoint(checkpoint, args.out, half=args.half)
        print(f"wrote {args.out} (sha256 {sha})", file=sys.stderr)
        for part in ("val", "test", "test_tta"):
            if part in metrics:
                line = ", ".join(f"{t} {_auc(metrics[part][t]):.4f}" for t in TASKS)
                print(f"{part}: {line}", file=sys.stderr)
        return Path(args.out)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    try:
        trainer = Trainer(args)
    except ManifestError as error:
        # Bad or missing data: one line that names the file, not a traceback.
        raise SystemExit(f"error: {error}") from None
    trainer.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
