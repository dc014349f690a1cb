"""One training run of the recipe in ``classifier.train.cli``, from a ``TrainConfig``."""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from classifier.architectures import arch_spec, build_model
from classifier.checkpoint import Checkpoint, ModelConfig, save_checkpoint
from classifier.data import Case, load_image, read_ham10000
from classifier.predictor import Predictor, autocast, resolve_device, resolve_precision
from classifier.taxonomy import load_taxonomy
from classifier.train.config import TrainConfig
from classifier.train.dataset import (
    BIOPSIED_NEVUS,
    EpochSamples,
    data_summary,
    make_or_read_split,
    training_label,
)
from classifier.train.device_augment import DeviceAugmentation, decode_images, device_batches
from classifier.train.metrics import TASKS, auc, selection_auc, task_metrics, youden_thresholds
from classifier.train.recipe import (
    adamw,
    cosine_schedule,
    frozen_modules,
    keep_depthwise_fp32,
    seed_everything,
    update_ema,
)
from classifier.transforms import Augmentation, TrainTransform


class Trainer:
    """One training run; its state (weights, EMA, optimiser, RNGs, history) is a dict that
    ``save_state``/``load_state`` write after every epoch."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.taxonomy = load_taxonomy()
        self.device = resolve_device(config.device)
        self.precision = resolve_precision(config.precision, self.device)
        spec = arch_spec(config.arch)
        outputs = list(self.taxonomy.training_classes)
        if config.biopsied_nevi_class:
            outputs.append(BIOPSIED_NEVUS)
        self.model_config = ModelConfig(
            arch=config.arch,
            input_size=config.input_size,
            mean=spec.mean,
            std=spec.std,
            class_names=self.taxonomy.training_classes,
            taxonomy_version=self.taxonomy.version,
            output_classes=tuple(outputs),
        )
        cases = read_ham10000(config.data, self.taxonomy)
        self.split_path = config.split_path
        self.split = make_or_read_split(cases, self.split_path, config.split_seed)
        self.summary = data_summary(cases, self.split, config.data)
        self.train_cases = [c for c in cases if self.split[c.image_id] == "train"]
        self.val_cases = [c for c in cases if self.split[c.image_id] == "val"]
        self.test_cases = [c for c in cases if self.split[c.image_id] == "test"]
        if config.max_train_images:
            self.train_cases = random.Random(0).sample(self.train_cases, config.max_train_images)
        if config.max_eval_images:
            self.val_cases = random.Random(1).sample(self.val_cases, config.max_eval_images)
            self.test_cases = random.Random(2).sample(self.test_cases, config.max_eval_images)
        labels = [
            training_label(c, self.taxonomy, config.biopsied_nevi_class) for c in self.train_cases
        ]
        self.targets = torch.tensor([outputs.index(label) for label in labels])
        counts = Counter(labels)
        self.class_counts = {o: counts.get(o, 0) for o in outputs}
        count_per_image = torch.tensor([counts[label] for label in labels], dtype=torch.float64)
        self.sample_weights = count_per_image.pow(-config.sampling_power)
        loss_weights = torch.tensor(
            [max(self.class_counts[o], 1) ** -config.loss_weight_power for o in outputs],
            dtype=torch.float32,
        )
        loss_weights *= len(outputs) / loss_weights.sum()
        # Diagnosis-guided weighting (Gessert et al., IEEE TBME 2020): a biopsy-proven image can
        # weigh more than one diagnosed by follow-up or consensus; the batch loss is then the
        # weighted mean. At weight 1 the loss is plain (class-weighted) cross-entropy.
        self.criterion = nn.CrossEntropyLoss(
            weight=loss_weights.to(self.device),
            label_smoothing=config.label_smoothing,
            reduction="mean" if config.biopsy_weight == 1.0 else "none",
        )
        self.image_weights = torch.tensor(
            [config.biopsy_weight if c.biopsy_proven else 1.0 for c in self.train_cases],
            dtype=torch.float32,
        )
        seed_everything(config.seed)
        pretrained: bool | str = {"imagenet": True, "none": False}.get(
            config.pretrained, config.pretrained
        )
        self.model = build_model(
            config.arch, len(outputs), pretrained=pretrained, drop_path_rate=config.drop_path
        ).to(self.device)
        self.model.to(memory_format=torch.channels_last)
        self.frozen = frozen_modules(self.model, config.freeze_stages)
        for module in self.frozen:
            for parameter in module.parameters():
                parameter.requires_grad_(False)
        self.ema = copy.deepcopy(self.model).eval() if config.ema_decay > 0 else None
        if self.ema is not None:
            for parameter in self.ema.parameters():
                parameter.requires_grad_(False)
        if self.precision == "bf16" and self.device.type == "cpu":
            keep_depthwise_fp32(self.model)
        self.optimizer = adamw(self.model, config.lr, config.weight_decay)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.precision == "fp16")
        self.epoch_size = config.epoch_size or len(self.train_cases)
        self.steps_per_epoch = self.epoch_size // config.batch_size
        self.total_steps = self.steps_per_epoch * config.epochs
        self.warmup_steps = round(config.warmup_epochs * self.steps_per_epoch)
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        print(f"loading {len(self.train_cases)} training images", file=sys.stderr)
        self.train_images = [load_image(c.path) for c in self.train_cases]
        # The scale the network learns from, recorded so that every prediction first brings a
        # larger image down to it (classifier.imaging.fit_to_source); the few larger training
        # images are brought down to it too.
        sizes = Counter((image.height, image.width) for image in self.train_images)
        self.model_config = dataclasses.replace(
            self.model_config,
            source_size=sizes.most_common(1)[0][0] if sizes else None,
            preprocess=tuple(config.preprocess),
        )
        self.transform = TrainTransform(
            self.model_config,
            Augmentation(box_guided=not config.no_box_crop, blur=config.blur, cutout=config.cutout),
        )
        self.device_augmentation: DeviceAugmentation | None = None
        self.val_inputs: torch.Tensor | None = None
        if config.augment_on == "device":
            print("decoding the training images onto the device", file=sys.stderr)
            self.device_augmentation = DeviceAugmentation(
                self.transform,
                decode_images(
                    self.train_images,
                    [c.box for c in self.train_cases],
                    self.transform,
                    self.device,
                ),
            )

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
            "args": {k: str(v) for k, v in dataclasses.asdict(self.config).items()},
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
        config = self.config
        self.model.train()
        for module in self.frozen:
            module.eval()
        generator = torch.Generator().manual_seed(config.seed * 100_003 + self.epoch)
        order = torch.multinomial(
            self.sample_weights, self.epoch_size, replacement=True, generator=generator
        )
        seed = config.seed * 100_003 + self.epoch
        loader: Iterable[tuple[torch.Tensor, torch.Tensor]]
        if self.device_augmentation is None:
            samples = EpochSamples(
                self.train_images, self.train_cases, self.transform, order, seed=seed
            )
            loader = torch.utils.data.DataLoader(
                samples,
                batch_size=config.batch_size,
                shuffle=False,
                drop_last=True,
                num_workers=config.loader_workers,
                pin_memory=self.device.type == "cuda",
            )
        else:
            loader = device_batches(self.device_augmentation, order, config.batch_size, seed)
        losses: list[float] = []
        started = time.perf_counter()
        bar = tqdm(
            loader,
            total=self.steps_per_epoch,
            desc=f"epoch {self.epoch + 1}/{config.epochs}",
            mininterval=1.0 if sys.stderr.isatty() else 60.0,
            file=sys.stderr,
        )
        for images, indices in bar:
            x = images.to(self.device, memory_format=torch.channels_last, non_blocking=True)
            y = self.targets[indices].to(self.device, non_blocking=True)
            lr = cosine_schedule(
                self.step, self.total_steps, self.warmup_steps, config.lr, config.min_lr
            )
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            with autocast(self.device, self.precision):
                logits = self.model(x)
            loss = self.criterion(logits.float(), y)
            if config.biopsy_weight != 1.0:
                weights = self.image_weights[indices].to(self.device, non_blocking=True)
                loss = (loss * weights).sum() / weights.sum()
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
            if self.ema is not None:
                update_ema(self.ema, self.model, self.step, config.ema_decay)
            losses.append(loss.item())
            seen = len(losses) * config.batch_size
            bar.set_postfix(
                loss=f"{np.mean(losses[-50:]):.3f}",
                lr=f"{lr:.2e}",
                ips=f"{seen / (time.perf_counter() - started):.1f}",
                refresh=False,
            )
        elapsed = time.perf_counter() - started
        return {
            "train_loss": float(np.mean(losses)) if losses else float("nan"),
            "train_images_per_s": len(losses) * config.batch_size / max(elapsed, 1e-9),
            "train_seconds": elapsed,
        }

    def evaluated_network(self) -> nn.Module:
        return self.ema if self.ema is not None else self.model

    def predict(
        self, network: nn.Module, cases: Sequence[Case], *, tta: bool = False
    ) -> np.ndarray:
        predictor = Predictor(
            copy.deepcopy(network),
            self.model_config,
            device=self.device,
            precision="fp32",
            tta=tta,
        )
        if cases is self.val_cases and not tta and self.device_augmentation is not None:
            # Every epoch scores the validation split: on the device path its inputs are made
            # once and kept there (the same eval transform, so the same probabilities).
            if self.val_inputs is None:
                images = [load_image(c.path) for c in cases]
                self.val_inputs = torch.stack([predictor.transform(im) for im in images]).to(
                    self.device
                )
            parts = [
                predictor.predict(self.val_inputs[start : start + 64]).fine
                for start in range(0, len(self.val_inputs), 64)
            ]
            width = len(self.model_config.class_names)
            return np.concatenate(parts) if parts else np.zeros((0, width))
        images = [load_image(c.path) for c in cases]
        return predictor.predict_images(images, batch_size=64).fine

    def run(self) -> Path:
        config = self.config
        workdir = config.state_dir
        state_path = workdir / "last.pt"
        if config.resume and state_path.exists():
            self.load_state(state_path)
            print(
                f"resumed at epoch {self.epoch} (step {self.step}) from {state_path}",
                file=sys.stderr,
            )
        log_path = workdir / "log.jsonl"
        workdir.mkdir(parents=True, exist_ok=True)
        while self.epoch < config.epochs:
            record = self.train_epoch()
            self.epoch += 1
            network = self.evaluated_network()
            fine = self.predict(network, self.val_cases)
            val = task_metrics(self.val_cases, fine, self.taxonomy)
            selection = selection_auc(val)
            record.update(
                {
                    "epoch": self.epoch,
                    "step": self.step,
                    "val_selection_auc": selection,
                    **{f"val_{t}_auc": auc(val[t]) for t in val},
                }
            )
            self.history.append(record)
            improved = self.best is None or selection > self.best["selection"]
            if config.select == "best" and improved:
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
        """Write the checkpoint of the chosen epoch with its metrics and recipe."""
        config = self.config
        network = self.evaluated_network()
        chosen_epoch = self.epoch
        if config.select == "best" and self.best is not None:
            network.load_state_dict(self.best["weights"])
            chosen_epoch = self.best["epoch"]
        val_fine = self.predict(network, self.val_cases)
        thresholds = youden_thresholds(self.val_cases, val_fine, self.taxonomy)
        metrics: dict[str, Any] = {
            "evaluated_on": "biopsy-proven images of each split unless the key says 'all nevi'",
            "epoch": chosen_epoch,
            "thresholds": thresholds,
            "val": task_metrics(self.val_cases, val_fine, self.taxonomy, thresholds),
            "history": self.history,
        }
        if config.test_metrics:
            test_fine = self.predict(network, self.test_cases)
            metrics["test"] = task_metrics(self.test_cases, test_fine, self.taxonomy, thresholds)
            test_tta = self.predict(network, self.test_cases, tta=True)
            metrics["test_tta"] = task_metrics(self.test_cases, test_tta, self.taxonomy, thresholds)
        recipe = config.recipe()
        recipe["command"] = "python -m classifier.train " + " ".join(sys.argv[1:])
        recipe["precision_used"] = self.precision
        recipe["class_counts_train"] = self.class_counts
        checkpoint = Checkpoint(
            config=self.model_config,
            state_dicts=[network.state_dict()],
            metrics=metrics,
            data_summary=self.summary,
            split_seed=config.split_seed,
            name=config.model_name,
            recipe=recipe,
        )
        sha = save_checkpoint(checkpoint, config.out, half=config.half)
        print(f"wrote {config.out} (sha256 {sha})", file=sys.stderr)
        for part in ("val", "test", "test_tta"):
            if part in metrics:
                line = ", ".join(f"{t} {auc(metrics[part][t]):.4f}" for t in TASKS)
                print(f"{part}: {line}", file=sys.stderr)
        return Path(config.out)
