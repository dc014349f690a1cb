"""Benchmarks of the analysis: prints figures, asserts nothing (tests never time things).

    python bench/analysis.py [--readers 145] [--cases 1000] [--bootstrap 2000] [--repeat 5]

Target (issue 7): the full ``study_analysis`` of a simulated 145-reader x 1,000-case study with
2,000 bootstrap resamples in <= 1 s on 2 cores. Each benchmark is a function taking the parsed
arguments and returning printable lines; add one to BENCHMARKS (e.g. the CSV export of
1,000,000 decisions with its peak RSS and rows/s) and it runs with the others.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from readerstudy.analysis.readers import ReaderInput
from readerstudy.analysis.simulate import (
    simulate_cnn_scores,
    simulate_reader_panel,
)
from readerstudy.analysis.study import study_analysis


def simulated_study(
    n_readers: int, n_cases: int, seed: int = 2019
) -> tuple[np.ndarray, np.ndarray, list[ReaderInput]]:
    """A Brinker-like study: 20% melanomas, readers at 89.4% / 64.4%, a CNN with AUC 0.91."""
    truth = (np.arange(n_cases) < n_cases // 5).astype(int)
    panel = simulate_reader_panel(
        truth, n_readers, mean_sensitivity=0.894, mean_specificity=0.644, seed=seed
    )
    return truth, simulate_cnn_scores(truth, auc=0.91, seed=seed), panel.reader_inputs()


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_study_analysis(args: argparse.Namespace) -> list[str]:
    truth, cnn, readers = simulated_study(args.readers, args.cases)
    seconds = []
    for repeat in range(args.repeat + 1):
        start = time.perf_counter()
        result = study_analysis(truth, cnn, readers, n_bootstrap=args.bootstrap, seed=repeat)
        seconds.append(time.perf_counter() - start)
    warm = seconds[1:] or seconds
    return [
        f"study_analysis: {args.readers} readers x {args.cases} cases, "
        f"{args.bootstrap} bootstrap resamples, {os.cpu_count()} CPUs",
        f"  first call {seconds[0]:.3f} s; then median {statistics.median(warm):.3f} s, "
        f"best {min(warm):.3f} s over {len(warm)} runs (target <= 1 s)",
        f"  CNN AUC {result.cnn.auc.auc:.4f}; readers' mean AUC {result.mrmc.reader_mean_auc:.4f}"
        if result.mrmc
        else "  (no MRMC)",
        f"  peak RSS {peak_rss_mb():.0f} MB",
    ]


BENCHMARKS: list[Callable[[argparse.Namespace], list[str]]] = [bench_study_analysis]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=145)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    for benchmark in BENCHMARKS:
        print("\n".join(benchmark(args)), flush=True)


if __name__ == "__main__":
    main()
