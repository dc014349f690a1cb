"""The optimisation pieces of the recipe: seeding, the learning-rate schedule (Loshchilov &
Hutter, ICLR 2017), AdamW's weight-decay groups (Loshchilov & Hutter, ICLR 2019), frozen
stages, fp32 depthwise convolutions under CPU bf16, and the weight EMA (Polyak averaging)."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import torch
from torch import nn


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def cosine_schedule(step: int, total: int, warmup: int, base: float, minimum: float) -> float:
    """Linear warm-up then cosine decay to ``minimum`` (SGDR without restarts)."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return minimum + 0.5 * (base - minimum) * (1 + math.cos(math.pi * progress))


def adamw(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; biases and norm weights (ndim <= 1) undecayed."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim <= 1 else decay).append(parameter)
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=lr,
    )


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


def update_ema(ema: nn.Module, model: nn.Module, step: int, max_decay: float) -> None:
    """One step of the exponential moving average of ``model``'s weights in ``ema``."""
    # Warm-up (as timm's ModelEmaV3): a young average forgets its random start faster.
    decay = min(max_decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for ema_v, model_v in zip(
            ema.state_dict().values(), model.state_dict().values(), strict=True
        ):
            if ema_v.is_floating_point():
                ema_v.lerp_(model_v.detach(), 1 - decay)
            else:
                ema_v.copy_(model_v)
