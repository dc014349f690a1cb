"""Benchmark of grading: simulated readers against gunicorn + PostgreSQL over real HTTP.

Each simulated reader logs in through the login form (CSRF and all), opens the grading page,
and then repeats what the grading page does for every case: POST the answer to the reading
API (the response carries the next case) and GET the next case's image. The latency of that
pair is "submit + load next case".

Two phases, each on a fresh study (every reader starts at case 1):

1. paced: ``--readers`` readers, each pausing about ``--pause`` seconds between cases (drawn
   from 0.5-1.5x; 1 s is ten times faster than a dermatologist), for ``--duration`` seconds:
   p50/p95/p99 latency;
2. saturation: the same readers with no pause for ``--saturation-duration`` seconds:
   decisions per second.

Both report errors and the decisions stored in the database against the submits that the
server acknowledged (201). Targets on 2 cores: p95 <= 50 ms, >= 150 decisions/s, 0 errors,
stored == acknowledged.

Before each phase the same readers ask the authenticated no-op request (``GET
/api/v1/accounts/me/``: session, user with roles, permission, a small JSON answer) with the
same pauses: the baseline of this run, this machine and this load. Issue 21's targets are
ratios to it, printed with PASS/MISS: CPU per decision (web workers + PostgreSQL) <= 2x the
no-op's, saturated decisions/s >= 0.5x the no-op's requests/s, paced p95 <= 3x the no-op's.
A decision is two requests (the submit and the next case's image), so each ratio is also
printed per request.

Run (PostgreSQL must be running; the database is created when missing):

    .venv/bin/python bench/grading.py --database-url postgres://postgres@127.0.0.1:5432/rs_grading_bench
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

# Run as a script (bench/ is not a package): the repository root makes bench.support importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import (
    PASSWORD,
    BenchSetup,
    bench_environment,
    case_images,
    database_create,
    django_setup,
    free_port,
    gunicorn_start,
    readers_ensure,
    study_create,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rs_grading_bench"
        ),
    )
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="paced phase, seconds")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between cases")
    parser.add_argument("--saturation-duration", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--cache-url",
        default=os.environ.get("BENCH_CACHE_URL", ""),
        help="Redis for the sessions (READERSTUDY_CACHE_URL), as in production; "
        "empty keeps them in the database",
    )
    parser.add_argument("--phase", choices=["both", "paced", "saturation"], default="both")
    parser.add_argument(
        "--baseline-duration",
        type=float,
        default=15.0,
        help="seconds of each no-op baseline phase (paced and saturated)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args()


CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


SERVING = re.compile(r'<script id="serving-data" type="application/json">(.*?)</script>', re.S)


@dataclass
class ReaderResult:
    latencies_ms: list[float] = field(default_factory=list)
    acknowledged: int = 0
    replayed: int = 0
    errors: list[str] = field(default_factory=list)
    finished: bool = False


class LeanClient:
    """The timed requests of one reader, on http.client with the cookies of its logged-in
    requests session.

    The client shares the server's 2 cores: requests costs about 1 ms of CPU per request, which
    on this machine is taken from the server being measured. http.client does the same HTTP
    for a fraction of that (a browser on another machine costs the server nothing)."""

    def __init__(self, base: str, session) -> None:
        parts = urlparse(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:  # fmt: skip
        try:
            self.connection.request(
                method, path, body=body, headers={"Cookie": self.cookie, **(headers or {})}
            )
            response = self.connection.getresponse()
            return response.status, response.read()
        except Exception:
            self.connection.close()  # a fresh connection for the next request
            raise


class SimulatedReader(threading.Thread):
    def __init__(self, base: str, session, study_id: int, pause: float, stop_at: list[float],
                 ready: threading.Barrier) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.base, self.session, self.study_id = base, session, study_id
        self.pause, self.stop_at, self.ready = pause, stop_at, ready
        self.result = ReaderResult()
        self.rng = random.Random(f"{study_id}-{id(self)}")

    def run(self) -> None:
        session = self.session
        try:
            page = session.get(f"{self.base}/reading/studies/{self.study_id}/", timeout=60)
            page.raise_for_status()
            csrf = CSRF_INPUT.findall(page.text)[-1]
            serving = json.loads(SERVING.search(page.text).group(1))
            session.get(self.base + serving["case"]["image_url"], timeout=60).raise_for_status()
        except Exception as error:  # noqa: BLE001 (any failure to start counts as an error)
            self.result.errors.append(f"start: {error!r}")
            self.ready.wait()
            return
        self.ready.wait()
        client = LeanClient(self.base, session)
        submit_path = f"/api/v1/reading/studies/{self.study_id}/decisions/"
        headers = {
            "X-CSRFToken": csrf,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Referer": self.base + "/",
        }
        n = 0
        while time.monotonic() < self.stop_at[0]:
            if self.pause:
                # Readers do not move in lockstep: a pause drawn from [0.5, 1.5] x --pause keeps
                # the mean rate but spreads the arrivals, as locust's wait_time does in load.py
                # (a fixed pause behind a start barrier sends all 50 submits in the same ms).
                time.sleep(self.pause * self.rng.uniform(0.5, 1.5))
                if time.monotonic() >= self.stop_at[0]:
                    break
            n += 1
            body = {
                "token": serving["case"]["token"],
                "decision": "biopsy" if n % 3 == 0 else "reassure",
                "confidence": (n * 37) % 101,
                "active_ms": 900,
            }
            started = time.perf_counter()
            try:
                status, answer = client.request(
                    "POST", submit_path, json.dumps(body).encode(), headers
                )
                if status not in (200, 201):
                    self.result.errors.append(f"submit {status}: {answer[:200]!r}")
                    continue
                serving = json.loads(answer)["next"]
                if serving["finished"]:
                    self.result.latencies_ms.append((time.perf_counter() - started) * 1000)
                    self._count(status)
                    self.result.finished = True
                    return
                image_status, image = client.request("GET", serving["case"]["image_url"])
                if image_status != 200 or not image:
                    self.result.errors.append(f"image {image_status}")
                    continue
            except (OSError, http.client.HTTPException) as error:
                self.result.errors.append(f"request: {error!r}")
                continue
            self.result.latencies_ms.append((time.perf_counter() - started) * 1000)
            self._count(status)

    def _count(self, status: int) -> None:
        if status == 201:
            self.result.acknowledged += 1
        else:
            self.result.replayed += 1


NO_OP_PATH = "/api/v1/accounts/me/"


class NoOpReader(threading.Thread):
    """The baseline: a logged-in reader asking the authenticated no-op request (session, user
    with roles, permission, a small JSON answer) with the same pauses as a grading reader."""

    def __init__(self, base: str, session, pause: float, stop_at: list[float],
                 ready: threading.Barrier) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.base, self.session, self.pause = base, session, pause
        self.stop_at, self.ready = stop_at, ready
        self.result = ReaderResult()
        self.rng = random.Random(id(self))

    def run(self) -> None:
        client = LeanClient(self.base, self.session)
        headers = {"Accept": "application/json"}
        self.ready.wait()
        while time.monotonic() < self.stop_at[0]:
            if self.pause:
                time.sleep(self.pause * self.rng.uniform(0.5, 1.5))
                if time.monotonic() >= self.stop_at[0]:
                    break
            started = time.perf_counter()
            try:
                status, answer = client.request("GET", NO_OP_PATH, headers=headers)
            except (OSError, http.client.HTTPException) as error:
                self.result.errors.append(f"request: {error!r}")
                continue
            if status != 200:
                self.result.errors.append(f"no-op {status}: {answer[:200]!r}")
                continue
            self.result.latencies_ms.append((time.perf_counter() - started) * 1000)


def run_baseline(name: str, base: str, sessions: list, pause: float, duration: float,
                 cpu: CpuMeter) -> dict:  # fmt: skip
    """The same readers asking the no-op request instead of grading: what the machine does
    for a bare authenticated request right now, to compare the decisions with."""
    stop_at = [float("inf")]
    ready = threading.Barrier(len(sessions) + 1)
    readers = [NoOpReader(base, session, pause, stop_at, ready) for session in sessions]
    for reader in readers:
        reader.start()
    ready.wait()
    cpu_before = cpu.read()
    started = time.monotonic()
    stop_at[0] = started + duration
    for reader in readers:
        reader.join()
    elapsed = time.monotonic() - started
    cpu_used = {key: value - cpu_before[key] for key, value in cpu.read().items()}
    latencies = [ms for r in readers for ms in r.result.latencies_ms]
    errors = [e for r in readers for e in r.result.errors]
    return {
        "phase": name,
        "readers": len(readers),
        "pause_s": pause,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "errors": len(errors),
        "error_examples": errors[:5],
        "cpu_ms_per_request": {
            key: round(1000 * value / max(1, len(latencies)), 2) for key, value in cpu_used.items()
        },
    }


def report_baseline(result: dict) -> None:
    per_request = ", ".join(f"{k} {v} ms" for k, v in result["cpu_ms_per_request"].items())
    print(
        f"\n== baseline {result['phase']}: GET {NO_OP_PATH} by {result['readers']} readers, "
        f"pause {result['pause_s']} s, {result['seconds']} s: {result['requests_per_s']} "
        f"requests/s, p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"errors {result['errors']}; CPU per request: {per_request}"
    )
    for example in result["error_examples"]:
        print(f"  e.g. {example}")


def server_cpu_ms(per_item: dict[str, float]) -> float:
    """The CPU an item costs the server side: the web workers and PostgreSQL (not the client,
    which a browser on another machine would pay)."""
    return per_item["server"] + per_item["postgres"]


def ratios(results: dict[str, dict]) -> list[dict]:
    """The targets of issue 21, each a ratio to the same run's no-op baseline."""
    rows = []
    if "saturation" in results and "baseline_saturated" in results:
        decision = server_cpu_ms(results["saturation"]["cpu_ms_per_decision"])
        request = server_cpu_ms(results["baseline_saturated"]["cpu_ms_per_request"])
        rows.append({
            "figure": "CPU per decision (web + PostgreSQL, saturated)",
            "value": f"{decision:.2f} ms", "baseline": f"{request:.2f} ms per no-op",
            "ratio": decision / request, "target": "<= 2.0x", "pass": decision <= 2 * request,
            "per_request": f"{decision / 2:.2f} ms, {decision / 2 / request:.2f}x",
        })  # fmt: skip
        rate = results["saturation"]["decisions_per_s"]
        base_rate = results["baseline_saturated"]["requests_per_s"]
        rows.append({
            "figure": "saturated decisions/s",
            "value": f"{rate}/s", "baseline": f"{base_rate} no-ops/s",
            "ratio": rate / base_rate, "target": ">= 0.5x", "pass": rate >= 0.5 * base_rate,
            "per_request": f"{2 * rate:.1f} requests/s, {2 * rate / base_rate:.2f}x",
        })  # fmt: skip
    if "paced" in results and "baseline_paced" in results:
        p95 = results["paced"]["p95_ms"]
        base_p95 = results["baseline_paced"]["p95_ms"]
        rows.append({
            "figure": "paced p95 (submit + next image)",
            "value": f"{p95} ms", "baseline": f"{base_p95} ms no-op p95",
            "ratio": p95 / base_p95, "target": "<= 3.0x",
            "pass": round(p95 / base_p95, 2) <= 3.0,
        })  # fmt: skip
    return rows


def report_ratios(rows: list[dict]) -> None:
    print("\n== against the same run's baseline (issue 21)")
    for row in rows:
        print(
            f"{row['figure']}: {row['value']} vs {row['baseline']}: {row['ratio']:.2f}x "
            f"(target {row['target']}) {'PASS' if row['pass'] else 'MISS'}"
        )
        if "per_request" in row:
            print(f"  per request (a decision is a submit and an image): {row['per_request']}")


def log_in(base: str, username: str):
    """A requests session logged in through the login form, as a browser would."""
    import requests

    session = requests.Session()
    login = session.get(f"{base}/accounts/login/", timeout=60)
    csrf = CSRF_INPUT.search(login.text).group(1)
    response = session.post(
        f"{base}/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf},
        timeout=120,
    )
    response.raise_for_status()
    if "sessionid" not in session.cookies:
        raise RuntimeError(f"{username} could not log in")
    return session


def baseline(base: str, seconds: float = 5.0, clients: int = 10) -> float:
    """Requests per second that this machine serves for /healthz right now: a yardstick for how
    busy the machine is (the figures below are only comparable at a similar baseline)."""
    import requests

    stop = time.monotonic() + seconds
    counts: list[int] = []

    def hammer() -> None:
        session, n = requests.Session(), 0
        while time.monotonic() < stop:
            session.get(f"{base}/healthz", timeout=30)
            n += 1
        counts.append(n)

    threads = [threading.Thread(target=hammer) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


class CpuMeter:
    """CPU seconds used by the web server (gunicorn and its workers), PostgreSQL and this
    client, to show where a phase's CPU went: on 2 cores they all share the same budget."""

    def __init__(self, server_pid: int) -> None:
        import psutil

        self.server = psutil.Process(server_pid)

    def read(self) -> dict[str, float]:
        import psutil

        def seconds(process: psutil.Process) -> float:
            # With the children it has reaped: PostgreSQL backends and gunicorn workers that
            # exit during a phase (connection and worker recycling) still count.
            try:
                times = process.cpu_times()
            except psutil.Error:
                return 0.0
            return times.user + times.system + times.children_user + times.children_system

        server = [self.server, *self.server.children(recursive=True)]
        postgres = [
            p for p in psutil.process_iter(["name"]) if p.info["name"].startswith("postgres")
        ]
        return {
            "server": sum(map(seconds, server)),
            "postgres": sum(map(seconds, postgres)),
            "client": seconds(psutil.Process()),
        }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def run_phase(
    name: str,
    base: str,
    setup: BenchSetup,
    sessions: list,
    pause: float,
    duration: float,
    cpu: CpuMeter,
) -> dict:
    from readerstudy.reading.models import Decision

    stop_at = [float("inf")]
    ready = threading.Barrier(len(sessions) + 1)
    readers = [
        SimulatedReader(base, session, setup.study_id, pause, stop_at, ready)
        for session in sessions
    ]
    for reader in readers:
        reader.start()
    ready.wait()  # everyone has logged in and sees their first case
    cpu_before = cpu.read()
    started = time.monotonic()
    stop_at[0] = started + duration
    for reader in readers:
        reader.join()
    elapsed = time.monotonic() - started
    cpu_used = {key: value - cpu_before[key] for key, value in cpu.read().items()}
    latencies = [ms for r in readers for ms in r.result.latencies_ms]
    errors = [e for r in readers for e in r.result.errors]
    acknowledged = sum(r.result.acknowledged for r in readers)
    stored = Decision.objects.filter(enrolment__study_id=setup.study_id).count()
    return {
        "phase": name,
        "readers": len(readers),
        "pause_s": pause,
        "seconds": round(elapsed, 1),
        "decisions": len(latencies),
        "decisions_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "errors": len(errors),
        "error_examples": errors[:5],
        "acknowledged": acknowledged,
        "replayed": sum(r.result.replayed for r in readers),
        "stored": stored,
        "readers_finished": sum(r.result.finished for r in readers),
        "cpu_ms_per_decision": {
            key: round(1000 * value / max(1, len(latencies)), 2) for key, value in cpu_used.items()
        },
        "cpu_busy": round(sum(cpu_used.values()) / elapsed / (os.cpu_count() or 1), 2),
    }


def round_trips_count(usernames: list[str], images: list[bytes]) -> dict[str, int]:
    """Database round trips of one submit + next case and of one image, counted in this process
    with the server's settings (a Django test client, on a study of its own so that the phases'
    stored = acknowledged is untouched). BEGIN and COMMIT count: each is a round trip; a PREPARE
    does not, as a connection prepares each hot-path statement once (core/rows.py)."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    setup = study_create("round-trips", usernames[:1], images[:3])
    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(username=usernames[0]))
    api = f"/api/v1/reading/studies/{setup.study_id}"
    served = client.get(f"{api}/next/").json()["case"]
    with CaptureQueriesContext(connection) as submit:
        answer = client.post(
            f"{api}/decisions/",
            {"token": served["token"], "decision": "biopsy", "confidence": 70},
            content_type="application/json",
        )
    assert answer.status_code == 201, answer.content
    image_url = answer.json()["next"]["case"]["image_url"]
    with CaptureQueriesContext(connection) as image:
        shown = client.get(image_url)
    assert shown.status_code == 200, image_url

    def per_request(queries: CaptureQueriesContext) -> int:
        return sum(not query["sql"].startswith("PREPARE") for query in queries)

    return {"submit_and_next": per_request(submit), "image": per_request(image)}


def report(result: dict) -> None:
    print(
        f"\n== {result['phase']}: {result['readers']} readers, pause {result['pause_s']} s, "
        f"{result['seconds']} s"
    )
    print(
        f"submit + load next case: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"p99 {result['p99_ms']} ms (mean {result['mean_ms']} ms)"
    )
    print(f"throughput: {result['decisions_per_s']} decisions/s ({result['decisions']} in all)")
    print(
        f"errors: {result['errors']}; stored {result['stored']} vs acknowledged "
        f"{result['acknowledged']} (replays {result['replayed']}); "
        f"{'EQUAL' if result['stored'] == result['acknowledged'] else 'MISMATCH'}"
    )
    per_decision = ", ".join(f"{k} {v} ms" for k, v in result["cpu_ms_per_decision"].items())
    print(f"CPU per decision: {per_decision}; cores busy {100 * result['cpu_busy']:.0f}%")
    for example in result["error_examples"]:
        print(f"  e.g. {example}")


def measure(name: str, baseline_name: str, baseline_key: str, pause: float, duration: float,
            base: str, sessions: list, usernames: list[str], images: list[bytes],
            baseline_duration: float, cpu: CpuMeter) -> dict[str, dict]:  # fmt: skip
    """One measuring block: the no-op baseline with ``pause``, then grading a fresh study with
    the same pause, each reported as it ends; keyed as ``ratios`` reads them."""
    baseline_result = run_baseline(baseline_name, base, sessions, pause, baseline_duration, cpu)
    report_baseline(baseline_result)
    setup = study_create(name, usernames, images)
    result = run_phase(name, base, setup, sessions, pause, duration, cpu)
    report(result)
    return {baseline_key: baseline_result, name: result}


def main() -> None:
    args = parse_args()
    env = bench_environment(args.database_url)
    env["READERSTUDY_CACHE_URL"] = args.cache_url
    database_create(args.database_url)
    django_setup(env)
    print(f"setting up {args.readers} readers and studies of {args.cases} cases ...", flush=True)
    usernames = readers_ensure(args.readers)
    images = case_images(args.cases)
    port = args.port or free_port()
    server = gunicorn_start(env, port, args.workers, args.threads)
    base = f"http://127.0.0.1:{port}"
    cpu = CpuMeter(server.pid)
    results: list[dict] = []
    try:
        print(
            f"gunicorn: {args.workers} workers x {args.threads} threads on {base}; "
            f"{os.cpu_count()} CPUs; PostgreSQL {urlparse(args.database_url).path.lstrip('/')}"
        )
        print(f"baseline: /healthz at {baseline(base):.0f} requests/s (10 clients)", flush=True)
        trips = round_trips_count(usernames, images)
        print(
            f"database round trips: submit + next case {trips['submit_and_next']}, "
            f"its image {trips['image']} (sessions in "
            f"{'Redis' if args.cache_url else 'the database'})",
            flush=True,
        )
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=4) as pool:
            sessions = list(pool.map(lambda name: log_in(base, name), usernames))
        print(f"{len(sessions)} readers logged in", flush=True)
        by_phase: dict[str, dict] = {}
        if args.phase in ("both", "paced"):
            by_phase.update(
                measure("paced", "paced", "baseline_paced", args.pause, args.duration,
                        base, sessions, usernames, images, args.baseline_duration, cpu)
            )  # fmt: skip
        if args.phase in ("both", "saturation"):
            by_phase.update(
                measure("saturation", "saturated", "baseline_saturated", 0.0,
                        args.saturation_duration, base, sessions, usernames, images,
                        args.baseline_duration, cpu)
            )  # fmt: skip
        targets = ratios(by_phase)
        report_ratios(targets)
        results = [*by_phase.values(), {"round_trips": trips, "targets": targets}]
    finally:
        server.terminate()
        server.wait(timeout=30)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
