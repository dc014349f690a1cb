"""Benchmarks of the classifier on the CPU: prints figures, asserts nothing.

    python bench/classifier.py [--threads 2] [--images 256] [--batch-size 32]

Predictor throughput (images/s, transform included) of EfficientNet-Lite0 at 224 x 224 in fp32
and bf16 autocast (target: >= 120 images/s in bf16 on 2 cores with hardware bf16), and of the
shipped model at its own input size; training throughput (forward + backward + AdamW step) of
Lite0 at the training recipe's 225 x 300. bf16 is only fast on CPUs with AVX512-BF16 or AMX;
without them PyTorch emulates it, and ``auto`` precision chooses fp32.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/ham10000")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
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


if __name__ == "__main__":
    main()
