"""Benchmarks of the CNN insight views: prints figures, asserts nothing.

    python bench/insight.py [--cases 2000] [--gradcam 10] [--threads 2]

Targets (issue 9), on 2 cores: the t-SNE map (PCA to 50 dimensions, then scikit-learn's
Barnes-Hut t-SNE, exactly what the Celery task runs) of 2,000 cases <= 20 s; Grad-CAM of one
case on the CPU <= 0.5 s (median over ``--gradcam`` real images).

The embeddings are the shipped model's penultimate-layer features of real HAM10000 images
(``../shared/data/ham10000``, override with --data); they are computed once and cached under
``var/bench/`` so repeated runs time only the t-SNE.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def embeddings(data: Path, n_cases: int) -> np.ndarray:
    cache = ROOT / "var" / "bench" / f"embeddings-{n_cases}.npy"
    if cache.exists():
        return np.load(cache)
    from classifier import DEFAULT_CHECKPOINT
    from classifier.data import load_image, read_ham10000
    from classifier.predictor import Predictor
    from classifier.taxonomy import load_taxonomy

    cases = read_ham10000(data, load_taxonomy())[:n_cases]
    predictor = Predictor.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu")
    print(f"computing the embeddings of {len(cases)} images (cached for later runs)...")
    features = predictor.predict_images([load_image(c.path) for c in cases], features=True).features
    assert features is not None
    vectors = features.astype(np.float16)  # as the scoring worker stores them
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def bench_tsne(vectors: np.ndarray) -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "readerstudy.settings")
    os.environ.setdefault("DJANGO_DEBUG", "true")  # a local tool: the embedded defaults
    import django

    django.setup()
    from readerstudy.analysis.insight import tsne_coordinates

    start = time.perf_counter()
    points = tsne_coordinates(vectors.astype(np.float32))
    seconds = time.perf_counter() - start
    assert points.shape == (len(vectors), 2)
    shape = f"{len(vectors)} cases x {vectors.shape[1]} features"
    return f"t-SNE of {shape}: {seconds:.1f} s (target <= 20 s)"


def bench_gradcam(data: Path, n_images: int) -> str:
    from classifier import DEFAULT_CHECKPOINT
    from classifier.data import load_image, read_ham10000
    from classifier.explain import grad_cam
    from classifier.predictor import Predictor
    from classifier.taxonomy import load_taxonomy

    cases = [c for c in read_ham10000(data, load_taxonomy()) if c.diagnosis == "mel"][:n_images]
    predictor = Predictor.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu")
    grad_cam(predictor, load_image(cases[0].path), target="melanoma-vs-nevus")  # warm-up
    seconds = []
    for case in cases:
        image = load_image(case.path)
        start = time.perf_counter()
        grad_cam(predictor, image, target="melanoma-vs-nevus")
        seconds.append(time.perf_counter() - start)
    return (
        f"Grad-CAM of one case ({predictor.precision}, {predictor.config.input_size[0]}x"
        f"{predictor.config.input_size[1]} input): median {statistics.median(seconds):.3f} s, "
        f"max {max(seconds):.3f} s over {len(seconds)} melanomas (target <= 0.5 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/ham10000")
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--gradcam", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    print(f"{os.cpu_count()} CPUs; torch and scikit-learn limited to {args.threads} threads")
    print(bench_tsne(embeddings(args.data, args.cases)))
    print(bench_gradcam(args.data, args.gradcam))


if __name__ == "__main__":
    main()
