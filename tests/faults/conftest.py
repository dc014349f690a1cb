"""Fault tests: kill workers, Redis and PostgreSQL during a 500-image scoring run.

They run in their own phase of ``make test`` (and so in CI), with a Redis server of their
own on port 6390 that they may kill, as the broker of both this process and the workers.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from readerstudy.scoring.models import CaseScoring, CnnScore, ModelVersion
from readerstudy.scoring.selectors import active_model_for_task
from readerstudy.studies.models import Study
from tests.factories import StudyFactory
from tests.support.cases import add_real_cases, ham10000_rows
from tests.support.env import require
from tests.support.worker import WorkerProcess, purge_queues, start_worker, worker_environment

FAULT_REDIS_PORT = 6390
N_CASES = 500


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)


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


@pytest.fixture(scope="session")
def fault_redis() -> RedisServer:
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    broker = settings.CELERY_BROKER_URL
    if broker != f"redis://127.0.0.1:{FAULT_REDIS_PORT}/0":
        pytest.skip(
            f"fault tests need CELERY_BROKER_URL=redis://127.0.0.1:{FAULT_REDIS_PORT}/0 "
            "(make test runs them in a phase of their own)"
        )
    server = RedisServer(FAULT_REDIS_PORT)
    if not server.ping():
        server.start()
    return server


@pytest.fixture
def scoring_study(transactional_db, fault_redis, settings) -> Study:
    settings.READERSTUDY_SCORING_CHUNK = 20
    study = StudyFactory()
    add_real_cases(study, ham10000_rows(histo_only=False)[:N_CASES])
    purge_queues(["cpu", "default"])
    return study


@pytest.fixture
def default_model(db) -> ModelVersion:
    return active_model_for_task("melanoma-vs-nevus")


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


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Workers started by a test; all stopped at its end."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()
