"""Benchmarks of the analysis: prints figures, asserts nothing (tests never time things).

    python bench/analysis.py [--readers 145] [--cases 1000] [--bootstrap 2000] [--repeat 5]

Targets (issue 7): the full ``study_analysis`` of a simulated 145-reader x 1,000-case study with
2,000 bootstrap resamples in <= 1 s on 2 cores; the CSV export of 1,000,000 decisions
(``manage.py export_report --format csv``, streamed from the database) with a peak RSS
<= 150 MB, printed with rows/s. Run the export against PostgreSQL, as production does:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/readerstudy \\
        python bench/analysis.py --only export

It fills a throwaway copy of the database (``test_<name>``, created and dropped here). Each
benchmark is a function taking the parsed arguments and returning printable lines.
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

from readerstudy.stats.readers import ReaderInput
from readerstudy.stats.simulate import (
    simulate_cnn_scores,
    simulate_reader_panel,
)
from readerstudy.stats.study import study_analysis


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


def bench_decisions_export(args: argparse.Namespace) -> list[str]:
    """1,000,000 decisions (1,000 readers x 1,000 cases) exported by the real command in a
    child process, whose peak RSS is read from the kernel when it ends."""
    import subprocess
    import tempfile

    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "readerstudy.settings")
    import django

    django.setup()
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        study_id, n_decisions, fill_seconds = _fill_decisions(args.decisions)
        env = dict(os.environ)
        if connection.vendor == "sqlite":
            env["DATABASE_URL"] = f"sqlite:///{connection.settings_dict['NAME']}"
        else:
            db = connection.settings_dict
            env["DATABASE_URL"] = (
                f"postgres://{db['USER']}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/"
                f"{db['NAME']}"
            )
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "decisions.csv"
            # A small launcher runs the export and reports the export's peak RSS, as
            # /usr/bin/time does: RUSAGE_CHILDREN of this (large) process would report the
            # high-water mark that a child inherits from it until it execs.
            launcher = (
                "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
            )
            command = [sys.executable, "manage.py", "export_report", str(study_id)]
            command += ["--format", "csv", "--out", str(out)]
            began = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", launcher, *command],
                cwd=Path(__file__).resolve().parents[1],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - began
            child_mb = int(result.stdout.split()[-1]) / 1024
            with out.open() as handle:
                rows = sum(1 for _ in handle) - 1
            size_mb = out.stat().st_size / 2**20
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return [
        f"decisions CSV export: {n_decisions} decisions ({connection.vendor}; filled in "
        f"{fill_seconds:.0f} s)",
        f"  {rows} rows, {size_mb:.0f} MB in {seconds:.1f} s = {rows / seconds:,.0f} rows/s "
        "(process start included)",
        f"  peak RSS of the exporting process {child_mb:.0f} MB (target <= 150 MB)",
    ]


def _fill_decisions(n_decisions: int) -> tuple[int, int, float]:
    """A study of 1,000 cases and enough simulated readers for ``n_decisions`` answers."""
    import secrets

    from django.contrib.auth.models import User
    from django.utils import timezone

    from classifier.taxonomy import load_taxonomy
    from readerstudy.reading.models import Decision, ServedCase
    from readerstudy.studies.models import Case, Enrolment, Study

    began = time.perf_counter()
    n_cases = 1000
    n_readers = max(1, n_decisions // n_cases)
    owner = User.objects.create(username="bench-owner")
    task = load_taxonomy().task("melanoma-vs-nevus")
    study = Study.objects.create(
        name="export benchmark",
        task=task.name,
        task_definition=task.to_dict(),
        taxonomy_version="1",
        modality="dermoscopic",
        created_by=owner,
    )
    cases = Case.objects.bulk_create(
        [
            Case(
                study=study,
                position=n,
                image=f"bench/{n}.jpg",
                display_image=f"bench/{n}.jpg",
                thumbnail=f"bench/{n}.jpg",
                width=600,
                height=450,
                pixel_sha256=f"{n:064x}",
                diagnosis="mel" if n % 5 == 0 else "nv",
                truth=n % 5 == 0,
                biopsy_proven=True,
                source_id=f"ISIC_{n:07d}",
            )
            for n in range(n_cases)
        ]
    )
    now = timezone.now()
    rng = np.random.default_rng(0)
    for r in range(n_readers):
        reader = User.objects.create(username=f"bench-reader-{r}")
        enrolment = Enrolment.objects.create(
            study=study, reader=reader, pseudonym=f"R{r + 1:04d}", simulated=True
        )
        served = ServedCase.objects.bulk_create(
            [
                ServedCase(
                    enrolment=enrolment, case=case, token=secrets.token_hex(16), served_at=now
                )
                for case in cases
            ]
        )
        choices = rng.integers(0, 2, n_cases)
        confidence = rng.integers(0, 101, n_cases)
        Decision.objects.bulk_create(
            [
                Decision(
                    enrolment=enrolment,
                    case=case,
                    served=serving,
                    decision="biopsy" if choices[n] else "reassure",
                    confidence=int(confidence[n]),
                    revision=1,
                    served_at=now,
                    submitted_at=now,
                    active_ms=int(confidence[n]) * 100,
                )
                for n, (case, serving) in enumerate(zip(cases, served, strict=True))
            ],
            batch_size=5000,
        )
    return study.pk, n_readers * n_cases, time.perf_counter() - began


BENCHMARKS: dict[str, Callable[[argparse.Namespace], list[str]]] = {
    "analysis": bench_study_analysis,
    "export": bench_decisions_export,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=145)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument(
        "--only", choices=sorted(BENCHMARKS), action="append", help="run only these benchmarks"
    )
    args = parser.parse_args(argv)
    for name in args.only or BENCHMARKS:
        print("\n".join(BENCHMARKS[name](args)), flush=True)


if __name__ == "__main__":
    main()
