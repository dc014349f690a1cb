"""The settings of one training run, as typed fields with the shipped recipe's defaults.

The command line (``classifier.train.cli``) builds a ``TrainConfig`` from its options, one
field per option under the option's name (``--batch-size`` is ``batch_size``); the fields are
what a checkpoint records as its ``recipe``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One run of the recipe in ``classifier.train.cli`` (fields in the order of its options)."""

    data: Path  # the HAM10000 directory
    arch: str = "efficientnet_lite0"
    epochs: int
    out: Path  # the checkpoint to write
    input_size: tuple[int, int] = (150, 200)  # (height, width)
    batch_size: int = 32
    lr: float = 6e-4
    min_lr: float = 1e-6
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    drop_path: float = 0.1
    ema_decay: float = 0.999  # 0: no weight EMA
    sampling_power: float = 0.5  # draw images with weight count(class)**-power
    loss_weight_power: float = 0.0  # cross-entropy class weights count(class)**-power
    epoch_size: int = 0  # images per epoch (0: the train split)
    biopsied_nevi_class: bool = False  # biopsy-proven nevi as their own output, summed into nv
    freeze_stages: int = 0  # EfficientNet stages kept at their ImageNet weights
    no_box_crop: bool = False
    preprocess: tuple[str, ...] = ()  # classifier.imaging steps, in training and scoring alike
    blur: float = 0.0  # probability of a slight Gaussian blur per training image
    cutout: float = 0.0  # probability of one cutout per training image
    biopsy_weight: float = 1.0  # loss weight of biopsy-proven images (others: 1)
    pretrained: str = "imagenet"  # "imagenet", "none" or an ImageNet state_dict file
    split: Path | None = None  # split CSV: read when it exists, else written
    split_seed: int = 20240601
    seed: int = 0  # training seed (init of the head, sampling, augmentation)
    select: Literal["last", "best"] = "last"
    max_train_images: int = 0  # a subset, for smoke tests
    max_eval_images: int = 0
    device: str = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    threads: int = 2
    loader_workers: int = 0  # processes that augment images (0: the training process)
    augment_on: Literal["loader", "device"] = "loader"  # device: decoded once, batch-augmented
    workdir: Path | None = None  # resumable state
    resume: bool = False
    half: bool = False  # store fp16 weights in ``out``
    name: str = ""  # the model name recorded in the checkpoint
    test_metrics: bool = True

    @property
    def split_path(self) -> Path:
        """The split CSV (default: ``split.csv`` beside the checkpoint)."""
        return self.split or self.out.parent / "split.csv"

    @property
    def state_dir(self) -> Path:
        """Where the resumable state goes (default: ``OUT.state/``)."""
        return self.workdir or self.out.with_name(self.out.name + ".state")

    @property
    def model_name(self) -> str:
        height, width = self.input_size
        return self.name or f"{self.arch}-ham10000-{height}x{width}"

    def recipe(self) -> dict[str, Any]:
        """The fields as a checkpoint records them (paths as text, steps as a list)."""
        recipe = {
            key: str(value) if isinstance(value, Path) else value
            for key, value in dataclasses.asdict(self).items()
        }
        recipe["preprocess"] = list(self.preprocess)
        return recipe


def field_defaults() -> dict[str, Any]:
    """Each field's default (the command line's defaults come from here)."""
    return {
        field.name: field.default
        for field in dataclasses.fields(TrainConfig)
        if field.default is not dataclasses.MISSING
    }
