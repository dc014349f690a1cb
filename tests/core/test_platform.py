"""Proof that each real component works: the database, the broker and a worker process."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from readerstudy.celery import enqueue_on_commit
from readerstudy.core.models import WorkerHeartbeat
from readerstudy.core.tasks import worker_heartbeat
from tests.support.env import in_ci
from tests.support.worker import purge_queues, queued_message_count, running_worker


@pytest.mark.django_db
def test_database_is_postgresql_in_ci() -> None:
    if not in_ci():
        pytest.skip("only CI promises PostgreSQL; this run uses " + connection.vendor)
    assert connection.vendor == "postgresql"


def test_broker_is_redis_in_ci() -> None:
    if not in_ci():
        pytest.skip("only CI promises Redis; this run uses " + settings.CELERY_BROKER_URL)
    assert settings.CELERY_BROKER_URL.startswith("redis://")


def test_healthz_answers_ok_with_the_database_up(client, db) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_process_round_trips_a_task_that_writes_a_row(worker_log_dir) -> None:
    purge_queues(["default"])
    with running_worker(worker_log_dir, queues=["default"]) as worker:
        worker_heartbeat.apply_async(
            kwargs={"token": "round-trip", "requested_at": timezone.now().isoformat()}
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = WorkerHeartbeat.objects.filter(token="round-trip").first()
            if row:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the worker wrote no row within 60 s:\n" + worker.log())
    assert row.hostname.startswith(worker.name)
    assert row.queue == "default"


@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit_sends_nothing_when_the_transaction_rolls_back() -> None:
    purge_queues(["default"])
    before = queued_message_count("default")
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit(worker_heartbeat, token="rolled-back", requested_at="2026-01-01")
        raise RuntimeError("the import failed")
    assert queued_message_count("default") == before

    with transaction.atomic():
        for n in range(3):
            enqueue_on_commit(worker_heartbeat, token=f"kept-{n}", requested_at="2026-01-01")
        # Nothing leaves before the commit: a worker must never see uncommitted rows.
        assert queued_message_count("default") == before
    assert queued_message_count("default") == before + 3
    purge_queues(["default"])
