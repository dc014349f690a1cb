"""Fault tests: kill workers, Redis and PostgreSQL during a 500-image scoring run.

They run in their own phase of ``make test`` (and so in CI), with a Redis server of their
own on port 6390 that they may kill, as the broker of both this process and the workers.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from readerstudy.scoring.models import CaseScoring, CnnScore, ModelVersion
from readerstudy.studies.models import Study
from tests.support.worker import WorkerProcess, start_worker, worker_environment

FAULT_REDIS_PORT = 6390


N_CASES = 500


@dataclass
class RedisServer:
    port: int

    def ping(self) -> bool:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
        )
        return result.stdout.strip() == "PONG"

    def start(self) -> None:
        subprocess.run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/tmp",
                "--pidfile",
                f"/tmp/readerstudy-fault-redis-{self.port}.pid",
            ],
            check=True,
        )
        deadline = time.monotonic() + 20
        while not self.ping():
            assert time.monotonic() < deadline, "the fault-test Redis did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no persistence; every queued message is gone."""
        pid = Path(f"/tmp/readerstudy-fault-redis-{self.port}.pid").read_text().strip()
        subprocess.run(["kill", "-9", pid], check=True)
        deadline = time.monotonic() + 10
        while self.ping():
            assert time.monotonic() < deadline
            time.sleep(0.1)


def fault_worker(log_dir: Path, **env: str) -> WorkerProcess:
    environment = worker_environment(
        READERSTUDY_TORCH_THREADS="1",
        READERSTUDY_SCORING_BATCH="10",
        **env,
    )
    return start_worker(
        log_dir=log_dir,
        queues=["cpu", "default"],
        concurrency=2,
        env=environment,
        app="tests.support.fault_app",
    )


def scored(study: Study, model_version: ModelVersion) -> int:
    return CnnScore.objects.filter(case__study=study, model_version=model_version).count()


def failed(study: Study, model_version: ModelVersion) -> int:
    return CaseScoring.objects.filter(
        case__study=study, model_version=model_version, status=CaseScoring.Status.FAILED
    ).count()


def wait_until(condition, *, timeout: float, what: str, worker: WorkerProcess | None = None):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 (the database may be restarting)
            connection.close()
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            log = worker.log()[-6000:] if worker else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{log}")
        time.sleep(0.2)


def assert_every_case_scored_once(study: Study, model_version: ModelVersion) -> None:
    scores = CnnScore.objects.filter(case__study=study, model_version=model_version)
    assert scores.count() == N_CASES
    assert scores.values("case").distinct().count() == N_CASES
    assert failed(study, model_version) == 0
