from __future__ import annotations

import secrets
import time
from datetime import datetime

from django.utils import timezone

from readerstudy.celery import task_by_name
from readerstudy.core.models import WorkerHeartbeat


def worker_heartbeat_record(
    *, token: str, queue: str, hostname: str, requested_at: datetime
) -> WorkerHeartbeat:
    """Store the answer to a ping; a redelivered message finds the row already there."""
    heartbeat, _ = WorkerHeartbeat.objects.get_or_create(
        token=token,
        defaults={"queue": queue, "hostname": hostname, "requested_at": requested_at},
    )
    return heartbeat


def worker_ping(*, queue: str = "default", timeout: float = 30.0) -> WorkerHeartbeat | None:
    """Send a heartbeat task to ``queue`` and wait up to ``timeout`` seconds for its row."""
    token = secrets.token_hex(16)
    task_by_name("readerstudy.core.tasks.worker_heartbeat").apply_async(
        kwargs={"token": token, "requested_at": timezone.now().isoformat()}, queue=queue
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        heartbeat = WorkerHeartbeat.objects.filter(token=token).first()
        if heartbeat is not None:
            return heartbeat
        time.sleep(0.2)
    return None
