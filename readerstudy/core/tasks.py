from datetime import datetime

from celery import Task

from readerstudy.celery import task
from readerstudy.core.services import worker_heartbeat_record


@task()
def worker_heartbeat(self: Task, *, token: str, requested_at: str) -> None:
    """Answer a ping: record which worker, on which queue, picked the message up."""
    worker_heartbeat_record(
        token=token,
        queue=(self.request.delivery_info or {}).get("routing_key") or "default",
        hostname=self.request.hostname or "unknown",
        requested_at=datetime.fromisoformat(requested_at),
    )
