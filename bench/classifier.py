"""Benchmarks of the classifier on the CPU: prints figures, asserts nothing.

    python bench/classifier.py [--threads 2] [--images 256] [--batch-size 32]

Predictor throughput (images/s, transform included) of EfficientNet-Lite0 at 224 x 224 in fp32
and bf16 autocast (target: >= 120 images/s in bf16 on 2 cores with hardware bf16), and of the
shipped model at its own input size; training throughput (forward + backward + AdamW step) of
Lite0 at the training recipe's 225 x 300; and the training augmentation's throughput, in one
loader process (Pillow) and batched on ``--augment-device`` (``--augment-on device``), beside
the training step's rate as the baseline it must keep up with. bf16 is only fast on CPUs with
AVX512-BF16 or AMX; without them PyTorch emulates it, and ``auto`` precision chooses fp32.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/ham10000")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--augment-device", default="cpu", help="e.g. cuda on a GPU machine")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import dataclasses

    import torch

    from classifier import DEFAULT_CHECKPOINT
    from classifier.architectures import build_model
    from classifier.checkpoint import load_checkpoint
    from classifier.data import load_image
    from classifier.predictor import Predictor, cpu_supports_bf16

    torch.set_num_threads(args.threads)
    paths = sorted((args.data / "images").glob("*.jpg"))[: args.images]
    images = [load_image(p) for p in paths]
    print(
        f"{os.cpu_count()} CPUs, torch {torch.__version__} on {args.threads} threads; "
        f"hardware bf16: {'yes' if cpu_supports_bf16() else 'no (bf16 is emulated)'}; "
        f"{len(images)} HAM10000 images"
    )
    shipped = load_checkpoint(DEFAULT_CHECKPOINT).config
    square = dataclasses.replace(shipped, input_size=(224, 224))
    for label, config in (("Lite0 224x224", square), ("shipped model", shipped)):
        network = build_model(config.arch, config.num_outputs)
        for precision in ("fp32", "bf16"):
            predictor = Predictor(network, config, device="cpu", precision=precision)
            predictor.predict_images(images[: args.batch_size], batch_size=args.batch_size)
            start = time.perf_counter()
            predictor.predict_images(images, batch_size=args.batch_size)
            rate = len(images) / (time.perf_counter() - start)
            size = f"{config.input_size[0]}x{config.input_size[1]}"
            print(f"predict {label} ({size}) {precision}: {rate:.0f} images/s")

    model = build_model("efficientnet_lite0", shipped.num_outputs).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(args.batch_size, 3, 225, 300).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, shipped.num_outputs, (args.batch_size,))
    model.to(memory_format=torch.channels_last)
    train_rate = 0.0
    for precision in ("fp32", "bf16"):
        steps = []
        for step in range(4):
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = torch.nn.functional.cross_entropy(model(x).float(), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step:  # the first step warms up
                steps.append(time.perf_counter() - start)
        rate = args.batch_size * len(steps) / sum(steps)
        print(f"train Lite0 225x300 {precision}: {rate:.0f} images/s (augmentation excluded)")
        train_rate = max(train_rate, rate)
    augment_rates(args, images, shipped, train_rate)


def augment_rates(
    args: argparse.Namespace, images: list[Any], config: Any, train_rate: float
) -> None:
    """The augmentation's images/s per loader process and batched on one device."""
    import random

    import torch

    from classifier.train.device_augment import DeviceAugmentation, decode_images
    from classifier.transforms import Augmentation, TrainTransform

    transform = TrainTransform(config, Augmentation(blur=0.2, cutout=0.5))
    start = time.perf_counter()
    for position, image in enumerate(images):
        random.seed(position)
        transform(image)
    loader_rate = len(images) / (time.perf_counter() - start)
    device = torch.device(args.augment_device)
    decoded = decode_images(images, [None] * len(images), transform, device)
    augmentation = DeviceAugmentation(transform, decoded)
    batches = [list(range(k, k + args.batch_size)) for k in range(0, len(images), args.batch_size)]
    augmentation(batches[0][: len(batches[-1])], batches[0][: len(batches[-1])])  # warm-up
    start = time.perf_counter()
    for batch in batches:
        augmentation(batch, batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    device_rate = len(images) / (time.perf_counter() - start)
    print(
        f"augment 225x300 (blur 0.2, cutout 0.5): loader, one process {loader_rate:.0f} images/s "
        f"({loader_rate / train_rate:.2f}x the training step's {train_rate:.0f}); "
        f"batched on {device} {device_rate:.0f} images/s ({device_rate / train_rate:.2f}x)"
    )


if __name__ == "__main__":
    main()
