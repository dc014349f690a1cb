"""Load bench: readers grading through locust against gunicorn while a worker scores images.

50 simulated readers (``--readers``) log in and grade for 5 minutes (``--duration``) through
gunicorn on PostgreSQL, each pausing about ``--pause`` seconds per case (10 to 20 times
faster than a dermatologist), while a Celery worker scores 500 real HAM10000 images
(``--images``) sent through Redis by their import. Prints the latency of "submit + next
image" (p50/p95/p99) and of each request, the failed requests, the scoring progress, and
whether the decisions stored equal the submits the server acknowledged; exits 1 when they
differ or a request failed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/readerstudy \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/load.py [--duration 300]

It works on a throwaway copy of the database (``test_<name>``, created and dropped here), a
temporary media folder and its own queue; nothing of an installation is touched. It needs
../shared/data (the HAM10000 images) and PostgreSQL and Redis: SQLite would serialise the
readers' writes, and the filesystem broker is not what a deployment runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=300, help="seconds of grading")
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="readers started a second")
    parser.add_argument("--pause", type=float, default=1.0, help="mean seconds per case")
    parser.add_argument("--cases", type=int, default=400, help="cases of the graded study")
    parser.add_argument("--images", type=int, default=500, help="images the worker scores")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "ham10000")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn processes")
    parser.add_argument(
        "--torch-threads", type=int, default=1, help="the scoring worker's (leave cores to web)"
    )
    parser.add_argument(
        "--form-login",
        action="store_true",
        help="log every reader in through the login form (PBKDF2, about 0.4 s of CPU each: "
        "minutes of both cores for hundreds of readers) instead of handing each a session "
        "made the way a login makes it",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args()


def environment(scratch: Path, args: argparse.Namespace) -> dict[str, str]:
    """Production settings (DEBUG off) on plain HTTP on localhost, with the bench's own files."""
    database, broker = os.environ.get("DATABASE_URL", ""), os.environ.get("CELERY_BROKER_URL", "")
    if not database.startswith("postgres") or not broker.startswith("redis"):
        raise SystemExit("set DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://...")
    from bench.support import bench_environment

    return {
        **bench_environment(database, broker=broker, var=scratch / "var"),
        "MEDIA_ROOT": str(scratch / "media"),
        "READERSTUDY_UPLOAD_ROOT": str(scratch / "uploads"),
        "READERSTUDY_TORCH_THREADS": str(args.torch_threads),
        # The benchmark's own queue names would be the installation's: it purges them first.
        "READERSTUDY_SCORING_QUEUE": "cpu",
    }


def main() -> None:
    args = parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-load-"))
    env = environment(scratch, args)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "readerstudy.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    # The step after migrate on every installation: the shipped model scores every task.
    call_command("register_shipped_model", verbosity=0)
    try:
        run(args, scratch, env)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(scratch, ignore_errors=True)


def scoring_study(args: argparse.Namespace, scratch: Path):
    """Import ``--images`` HAM10000 images: the import sends them to the scoring queue."""
    from bench.ham10000 import bench_coordinator, import_first_images

    return import_first_images(
        data=args.data,
        n_images=args.images,
        scratch=scratch,
        name="scoring under load",
        coordinator=bench_coordinator(),
    )


def sessions_make(names: list[str]) -> list[str]:
    """A signed-in session per reader, stored where the server keeps sessions (Redis), made
    as ``django.contrib.auth.login`` makes one but without checking the password: a login is
    a one-off per reader that would otherwise spend the bench's first minutes hashing."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.utils.module_loading import import_string

    store = import_string(settings.SESSION_ENGINE + ".SessionStore")
    # The backend that loads users (django-axes's, listed first, only checks logins).
    backend = next(
        path
        for path in settings.AUTHENTICATION_BACKENDS
        if hasattr(import_string(path), "get_user")
    )
    users = {user.username: user for user in User.objects.filter(username__in=names)}
    keys = []
    for name in names:  # in the order of BENCH_READERS
        session = store()
        session[SESSION_KEY] = str(users[name].pk)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = users[name].get_session_auth_hash()
        session.create()
        keys.append(session.session_key)
    return keys


def locust_run(args: argparse.Namespace, env: dict, base: str, study_id: int, names: list[str],
               scratch: Path) -> subprocess.Popen:  # fmt: skip
    from django.conf import settings

    from bench.support import PASSWORD

    command = [
        str(REPO / ".venv" / "bin" / "locust"),
        "--locustfile", str(REPO / "bench" / "locustfile.py"),
        "--headless",
        "--users", str(args.readers),
        "--spawn-rate", str(args.spawn_rate),
        "--run-time", f"{args.duration}s",
        # Users finish the case in hand: a submit cut off mid-flight could be stored
        # without ever being counted as acknowledged.
        "--stop-timeout", "30",
        "--host", base,
        # Written once every user has stopped (the CSV files are written before that).
        "--json-file", str(scratch / "locust"),
        "--skip-log",
        # The figures are those of every reader grading, not of the ramp up to it.
        "--reset-stats",
    ]  # fmt: skip
    locust_env = {
        **env,
        "BENCH_READERS": ",".join(names),
        "BENCH_PASSWORD": PASSWORD,
        "BENCH_STUDY_ID": str(study_id),
        "BENCH_PAUSE": str(args.pause),
        "BENCH_RESULT": str(scratch / "counts.json"),
        "BENCH_SESSIONS": "" if args.form_login else ",".join(sessions_make(names)),
        "BENCH_SESSION_COOKIE": settings.SESSION_COOKIE_NAME,
    }
    with (scratch / "locust.log").open("wb") as log:
        return subprocess.Popen(command, cwd=REPO, env=locust_env, stdout=log, stderr=log)


def percentile(histogram: dict[int, int], q: float) -> float:
    """The q-th percentile of locust's response-time histogram (milliseconds -> count)."""
    total = sum(histogram.values())
    if not total:
        return float("nan")
    rank, seen = q / 100 * total, 0
    for milliseconds in sorted(histogram):
        seen += histogram[milliseconds]
        if seen >= rank:
            return float(milliseconds)
    return float(max(histogram))


def stats(scratch: Path, seconds: float) -> dict[str, dict[str, float]]:
    """Per request name: count, failures, p50/p95/p99 ms and rate; "all" sums them."""
    entries = json.loads((scratch / "locust.json").read_text())
    rows: dict[str, dict[str, float]] = {}
    together: dict[int, int] = {}
    requests = [e for e in entries if e["method"] != "READ"]  # the pair counts in its parts
    for entry in entries:
        histogram = {int(float(ms)): n for ms, n in entry["response_times"].items()}
        if entry in requests:
            for ms, n in histogram.items():
                together[ms] = together.get(ms, 0) + n
        rows[entry["name"]] = summary(histogram, entry["num_requests"], entry["num_failures"])
    rows["all requests"] = summary(
        together,
        sum(e["num_requests"] for e in requests),
        sum(e["num_failures"] for e in requests),
    )
    for row in rows.values():
        row["per_s"] = row["count"] / seconds
    return rows


def summary(histogram: dict[int, int], count: int, failures: int) -> dict[str, float]:
    return {
        "count": count,
        "failed": failures,
        **{f"p{q}": percentile(histogram, q) for q in (50, 95, 99)},
    }


def run(args: argparse.Namespace, scratch: Path, env: dict[str, str]) -> None:
    from django.conf import settings

    from bench.support import case_images, free_port, gunicorn_start, readers_ensure
    from bench.support import study_create as graded_study_create
    from readerstudy.reading.models import Decision
    from readerstudy.scoring.models import CnnScore
    from tests.support.worker import (
        purge_queues,
        start_worker,
        test_database_url,
        worker_environment,
    )

    # The web server and the worker use the throwaway database this process just made.
    env = {**env, "DATABASE_URL": test_database_url()}
    purge_queues(["default", settings.READERSTUDY_SCORING_QUEUE])
    print(f"importing {args.images} images to score and {args.cases} cases to grade ...")
    scoring = scoring_study(args, scratch) if args.images else None
    n_images = scoring.cases.count() if scoring else 0
    names = readers_ensure(args.readers)
    graded = graded_study_create("load", names, case_images(args.cases))
    port = free_port()
    server = gunicorn_start(env, port, args.web_workers, 1)
    worker_started = time.monotonic()
    worker = (
        start_worker(
            log_dir=scratch,
            # default: an import starts its scoring with a task there (study_scoring_start).
            queues=["default", settings.READERSTUDY_SCORING_QUEUE],
            env=worker_environment(),
        )
        if scoring
        else None
    )
    base = f"http://127.0.0.1:{port}"
    print(
        f"{args.readers} readers for {args.duration} s (pause {args.pause} s) on gunicorn "
        f"({args.web_workers} workers) at {base}; a worker scores {n_images} images "
        f"({args.torch_threads} torch threads); {os.cpu_count()} CPUs",
        flush=True,
    )
    from bench.grading import CpuMeter

    cpu = CpuMeter(server.pid)
    try:
        began = time.monotonic()
        load = locust_run(args, env, base, graded.study_id, names, scratch)
        cpu_before = cpu.read()
        scored_at = None
        scored = 0
        while load.poll() is None:
            if worker is not None:
                scored = CnnScore.objects.filter(case__study=scoring).count()
                if scored >= n_images and scored_at is None:
                    scored_at = time.monotonic() - worker_started
                if worker.process.poll() is not None:
                    raise SystemExit("the worker exited:\n" + worker.log()[-3000:])
            time.sleep(2)
        if worker is not None:
            scored = CnnScore.objects.filter(case__study=scoring).count()
        seconds = time.monotonic() - began
        # The client's CPU is locust's (a child of this process, reaped by now).
        cpu_used = {key: value - cpu_before[key] for key, value in cpu.read().items()}
        if load.returncode not in (0, 1):  # 1: some requests failed, reported below
            raise SystemExit((scratch / "locust.log").read_text()[-3000:])
    finally:
        if worker is not None:
            worker.stop()
        server.terminate()
        server.wait(timeout=30)
    rows = stats(scratch, seconds)
    counts = json.loads((scratch / "counts.json").read_text())
    stored = Decision.objects.filter(enrolment__study_id=graded.study_id).count()
    report(rows, counts, stored, scored, n_images, scored_at)
    decisions = max(1, counts["acknowledged"] + counts["replayed"])
    cpu_per_decision = {key: round(1000 * value / decisions, 2) for key, value in cpu_used.items()}
    print(
        "CPU per decision over the whole run (with the readers' start): "
        + ", ".join(f"{key} {value} ms" for key, value in cpu_per_decision.items())
        + f"; cores busy {100 * sum(cpu_used.values()) / seconds / (os.cpu_count() or 1):.0f}%"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "readers": args.readers,
                    "pause_s": args.pause,
                    "web_workers": args.web_workers,
                    "seconds": round(seconds, 1),
                    "requests": rows,
                    "counts": counts,
                    "stored": stored,
                    "cpus": os.cpu_count(),
                    "cpu_ms_per_decision": cpu_per_decision,
                },
                indent=2,
            )
        )
    if stored != counts["acknowledged"] or rows["all requests"]["failed"]:
        sys.exit(1)


def report(
    rows: dict[str, dict[str, float]],
    counts: dict[str, int],
    stored: int,
    scored: int,
    n_images: int,
    scored_at: float | None,
) -> None:
    print(f"\n{'request':<22} {'count':>7} {'failed':>6} {'p50':>6} {'p95':>6} {'p99':>6} (ms)")
    for name, row in rows.items():
        print(
            f"{name:<22} {row['count']:>7.0f} {row['failed']:>6.0f} "
            f"{row['p50']:>6.0f} {row['p95']:>6.0f} {row['p99']:>6.0f}"
        )
    pair, submit = rows.get("submit + next image"), rows.get("submit")
    if pair and submit:
        print(
            f"\nsubmit + next image: p95 {pair['p95']:.0f} ms (submit alone: p95 "
            f"{submit['p95']:.0f} ms; {submit['per_s']:.1f} decisions/s)"
        )
    print(f"failed requests: {rows['all requests']['failed']:.0f}")
    verdict = "EQUAL" if stored == counts["acknowledged"] else "MISMATCH"
    print(
        f"decisions stored {stored} vs successful submits {counts['acknowledged']} "
        f"(replays {counts['replayed']}): {verdict}"
    )
    when = (
        f"all {scored_at:.0f} s after the worker started"
        if scored_at is not None
        else "not all during the run"
    )
    if n_images:
        print(f"scoring: {scored} of {n_images} images scored meanwhile ({when})")


if __name__ == "__main__":
    main()
