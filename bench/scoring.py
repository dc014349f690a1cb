"""Benchmark: score 500 real images through a real worker, Redis and PostgreSQL.

Prints, in one run:
  1. the Predictor's raw forward rate on pre-made tensors of the worker's batch size, with the
     same number of torch threads as the worker;
  2. the end-to-end rate: from sending the scoring tasks to the last score committed (image
     decoding, transforms, the network, database writes, the broker);
  3. their ratio. Target on a 2-core CPU: >= 0.8.

Each round scores all the images again and measures the raw rate just before and just after
(the ratio uses their mean); the median of ``--rounds`` rounds is reported.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/readerstudy \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/scoring.py

It works on a throwaway copy of the database (``test_<name>``, created and dropped here), a
temporary media folder and its own queue; nothing of an installation is touched. Without the
two URLs it runs on the embedded SQLite and filesystem broker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "ham10000")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--batch", type=int, default=32, help="worker batch size")
    parser.add_argument(
        "--chunk", type=int, help="cases per task (default: READERSTUDY_SCORING_CHUNK's default)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed rounds; the median round is reported"
    )
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-scoring-"))
    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.update(
        {
            "MEDIA_ROOT": str(scratch / "media"),
            "READERSTUDY_UPLOAD_ROOT": str(scratch / "uploads"),
            "READERSTUDY_BROKER_DIR": str(scratch / "broker"),
            "READERSTUDY_SCORING_BATCH": str(args.batch),
            "READERSTUDY_TORCH_THREADS": str(args.threads),
            # Let the timed request re-send the cases that the import already sent.
            "READERSTUDY_SCORING_STALE_SECONDS": "0",
        }
    )
    if args.chunk:
        os.environ["READERSTUDY_SCORING_CHUNK"] = str(args.chunk)
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "readerstudy.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    # The step after migrate on every installation: the shipped model scores every task.
    call_command("register_shipped_model", verbosity=0)
    try:
        run(args, scratch)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(scratch, ignore_errors=True)


def raw_forward_rate(predictor: Any, batch: int, n_images: int) -> float:
    """Images per second through ``predictor.predict`` on pre-made tensors, as the worker
    calls it (features on), after one warm-up batch."""
    import torch

    height, width = predictor.config.input_size
    tensors = torch.randn(batch, 3, height, width)
    predictor.predict(tensors, features=True)  # warm-up
    rounds = max(1, n_images // batch)
    began = time.perf_counter()
    for _ in range(rounds):
        predictor.predict(tensors, features=True)
    seconds = time.perf_counter() - began
    return rounds * batch / seconds


def scores_wait(scores: Any, expected: int, worker: Any) -> None:
    """Poll until ``scores`` holds ``expected`` rows; stop the bench if the worker died."""
    while scores.count() < expected:
        if worker.process.poll() is not None:
            raise SystemExit(worker.log())
        time.sleep(0.05)


def run(args: argparse.Namespace, scratch: Path) -> None:
    import torch
    from django.conf import settings
    from django.db import connection

    from bench.ham10000 import bench_coordinator, import_first_images
    from classifier import DEFAULT_CHECKPOINT
    from classifier.predictor import Predictor
    from readerstudy.scoring.models import CaseScoring, CnnScore
    from readerstudy.scoring.selectors import model_version_active_get
    from readerstudy.scoring.services import study_scoring_enqueue
    from tests.support.worker import purge_queues, start_worker, worker_environment

    coordinator = bench_coordinator()
    study = import_first_images(
        data=args.data,
        n_images=args.images,
        scratch=scratch,
        name="scoring benchmark",
        coordinator=coordinator,
    )
    purge_queues([settings.READERSTUDY_SCORING_QUEUE])
    model_version = model_version_active_get(study.task)
    n_cases = study.cases.count()

    torch.set_num_threads(args.threads)
    predictor = Predictor.from_checkpoint(DEFAULT_CHECKPOINT, device="auto", precision="auto")
    device = f"{predictor.device} {predictor.precision}"

    worker = start_worker(
        log_dir=scratch,
        queues=[settings.READERSTUDY_SCORING_QUEUE],
        concurrency=1,
        env=worker_environment(),
    )
    rounds = []
    try:
        # Load the model in the worker and run one full batch before timing, as a running
        # installation has done.
        warm = import_first_images(
            data=args.data,
            n_images=args.batch,
            scratch=scratch,
            name="warm-up",
            coordinator=coordinator,
        )
        scores_wait(CnnScore.objects.filter(case__study=warm), warm.cases.count(), worker)

        scores = CnnScore.objects.filter(case__study=study, model_version=model_version)
        for number in range(1, args.rounds + 1):
            # Forward rate just before and just after the end-to-end run: this machine's speed
            # drifts by 10-20% over minutes, and the ratio compares like with like.
            before = raw_forward_rate(predictor, args.batch, n_cases)
            scores.delete()
            CaseScoring.objects.filter(case__study=study, model_version=model_version).delete()
            began = time.perf_counter()
            study_scoring_enqueue(study=study, reason="benchmark")
            scores_wait(scores, n_cases, worker)
            seconds = time.perf_counter() - began
            after = raw_forward_rate(predictor, args.batch, n_cases)
            raw = (before + after) / 2
            end_to_end = n_cases / seconds
            rounds.append((raw, end_to_end, end_to_end / raw))
            print(
                f"round {number}: raw {before:6.1f} / {after:6.1f} images/s (before / after), "
                f"end to end {end_to_end:6.1f} images/s ({seconds:.2f} s), "
                f"ratio {end_to_end / raw:.2f}",
                flush=True,
            )
    finally:
        worker.stop()
    raw, end_to_end, ratio = sorted(rounds, key=lambda r: r[2])[len(rounds) // 2]
    print(f"database        {connection.vendor}; broker {settings.CELERY_BROKER_URL.split(':')[0]}")
    print(f"model           {model_version.name} ({model_version.arch}), {device}")
    print(
        f"cpu cores       {os.cpu_count()}; torch threads {args.threads}; batch {args.batch}; "
        f"{settings.READERSTUDY_SCORING_CHUNK} cases per task"
    )
    print(f"                median of {len(rounds)} rounds:")
    print(f"raw forward     {raw:7.1f} images/s (pre-made tensors)")
    print(f"end to end      {end_to_end:7.1f} images/s ({n_cases} images)")
    print(f"ratio           {ratio:7.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
