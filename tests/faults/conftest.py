"""Fault tests: kill workers, Redis and PostgreSQL during a 500-image scoring run.

They run in their own phase of ``make test`` (and so in CI), with a Redis server of their
own on port 6390 that they may kill, as the broker of both this process and the workers.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from readerstudy.scoring.models import ModelVersion
from readerstudy.scoring.selectors import model_version_active_get
from readerstudy.studies.models import Study
from tests.factories import StudyFactory
from tests.support.cases import add_real_cases, ham10000_rows
from tests.support.env import require
from tests.support.faults import (
    FAULT_REDIS_PORT,
    N_CASES,
    RedisServer,
)
from tests.support.worker import WorkerProcess, purge_queues


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)


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
    return model_version_active_get("melanoma-vs-nevus")


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Workers started by a test; all stopped at its end."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()
