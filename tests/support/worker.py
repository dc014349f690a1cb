"""A real Celery worker process for the integration tests.

The worker runs as a subprocess with the same broker as the test process and the *test*
database, so a transactional test's committed rows are what the worker sees.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from tests.support.env import REPO_ROOT


def test_database_url() -> str:
    """The URL of the database the tests are using right now (the test database)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    if connection.vendor == "postgresql":
        auth = quote(db.get("USER") or "", safe="")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = db.get("HOST") or "localhost"
        port = db.get("PORT") or 5432
        return f"postgres://{auth}@{host}:{port}/{db['NAME']}"
    raise RuntimeError(f"no worker support for database vendor {connection.vendor}")


def worker_environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if hasattr(settings, "BROKER_SPOOL"):
        env["READERSTUDY_BROKER_DIR"] = str(settings.BROKER_SPOOL)
    env.update(extra)
    return env


def purge_queues(queues: Sequence[str]) -> int:
    """Drop messages left in ``queues`` by earlier runs; returns how many were dropped."""
    from readerstudy.celery import app

    dropped = 0
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in queues:
            with contextlib.suppress(Exception):
                dropped += channel.queue_purge(queue) or 0
    return dropped


def queued_message_count(queue: str) -> int:
    """Messages waiting in ``queue`` on the broker (Redis list or filesystem spool)."""
    from readerstudy.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        try:
            return channel.queue_declare(queue=queue, passive=True).message_count
        except Exception:  # noqa: BLE001 (a queue never declared holds nothing)
            return 0


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    name: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def child_pids(self) -> list[int]:
        """Pool processes of a prefork worker (the processes that run tasks)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if not children.exists():
            return []
        return [int(pid) for pid in children.read_text().split()]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


def start_worker(
    *,
    log_dir: Path,
    queues: Sequence[str] = ("default", "cpu"),
    concurrency: int = 1,
    pool: str = "prefork",
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    ready_timeout: float = 90.0,
    app: str = "readerstudy.celery",
) -> WorkerProcess:
    """Start ``celery worker`` and wait until it reports ready."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    log_path = log_dir / f"{name}.log"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        app,
        "worker",
        "--hostname",
        f"{name}@%h",
        "--queues",
        ",".join(queues),
        "--concurrency",
        str(concurrency),
        "--pool",
        pool,
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        *extra_args,
    ]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env or worker_environment(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = WorkerProcess(process=process, log_path=log_path, name=name)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited with {process.returncode}:\n{worker.log()}")
        if " ready." in worker.log():
            return worker
        time.sleep(0.2)
    worker.stop()
    raise RuntimeError(f"celery worker not ready after {ready_timeout} s:\n{worker.log()}")


@contextlib.contextmanager
def running_worker(log_dir: Path, **options: object) -> Iterator[WorkerProcess]:
    worker = start_worker(log_dir=log_dir, **options)  # type: ignore[arg-type]
    try:
        yield worker
    finally:
        worker.stop()
