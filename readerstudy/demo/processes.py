"""The demo's processes: a Celery worker (with its embedded broker) and the web server, started
as process groups and stopped with the demo (Ctrl-C, kill, a closed terminal)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

# Ctrl-C, a plain kill and a closed terminal all stop the demo and the processes it started.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class DemoProcesses:
    """The worker and the web server, each the leader of a process group of its own."""

    worker: subprocess.Popen[bytes] | None = None
    web: subprocess.Popen[bytes] | None = None
    grace_seconds: float = 20.0

    @property
    def started(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in (self.web, self.worker) if p is not None]

    def stop(self) -> None:
        """SIGTERM to every group, then SIGKILL to the groups whose leader is still running
        after the grace period (gunicorn and Celery stop their own children on SIGTERM)."""
        for process in self.started:
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for process in self.started:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    # Only while the leader is unreaped (running or a zombie) is its group id still ours.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


@contextlib.contextmanager
def demo_processes_stopped_on_exit() -> Iterator[DemoProcesses]:
    """Yield the demo's processes; stop them however the block ends.

    The first stop signal (STOP_SIGNALS) raises KeyboardInterrupt in the block, also where
    the demo was started with SIGINT ignored (a background job inherits that). Later signals
    are ignored, so that a second Ctrl-C or kill cannot cut the clean-up short and leave the
    worker and the web server running (issue 16); a signal that still lands inside the
    clean-up restarts it."""
    stopping = False

    def first_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, first_signal) for signum in STOP_SIGNALS}
    processes = DemoProcesses()
    try:
        yield processes
    finally:
        while True:
            try:
                stopping = True
                processes.stop()
                break
            except KeyboardInterrupt:
                continue
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _spawn(
    processes: DemoProcesses, role: str, command: Sequence[str], log_name: str
) -> subprocess.Popen[bytes]:
    """Start ``command`` in a session of its own as ``processes.<role>``, its output appended
    to var/log/``log_name``.

    The stop signals are blocked from before the child exists until it is registered, so that
    no signal can leave a child the clean-up does not know of; the child unblocks them."""
    log_dir = Path(settings.VAR_DIR) / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        with (log_dir / log_name).open("ab") as log:
            process = subprocess.Popen(
                list(command),
                cwd=settings.BASE_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, blocked),
            )
        setattr(processes, role, process)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    return process


def demo_worker_start(processes: DemoProcesses, *, concurrency: int = 1) -> None:
    """A Celery worker (with the beat scheduler) on the default and CPU scoring queues."""
    _spawn(
        processes,
        "worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "readerstudy.celery",
            "worker",
            "--beat",
            "--schedule",
            str(Path(settings.VAR_DIR) / "celerybeat-schedule"),
            "--queues",
            f"default,{settings.READERSTUDY_SCORING_QUEUE}",
            "--concurrency",
            str(concurrency),
            "--hostname",
            "demo@%h",
            "--loglevel",
            "INFO",
        ],
        "worker.log",
    )


def demo_web_start(processes: DemoProcesses, *, host: str, port: int) -> None:
    """gunicorn, as in production, serving static files through WhiteNoise."""
    _spawn(
        processes,
        "web",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "readerstudy.wsgi:application",
            "--bind",
            f"{host}:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--access-logfile",
            "-",
        ],
        "web.log",
    )


class ProgressLines:
    """Progress as plain log lines: one when a phase starts, one each time it passes another
    tenth, and one at its end. The demo's output is often a file or a pipe (a log, CI, a
    background job), where a redrawn progress bar becomes one line of carriage returns."""

    def __init__(self, write: Callable[[str], None], *, unit: str) -> None:
        self.write = write
        self.unit = unit
        self.phase = ""
        self.tenth = -1

    def __call__(self, phase: str, done: int, total: int) -> None:
        tenth = 10 * done // total if total > 0 else -1
        if phase == self.phase and tenth <= self.tenth:
            return
        self.phase, self.tenth = phase, tenth
        counted = f": {done} of {total} {self.unit}s" if total > 0 else ""
        self.write(f"  {phase}{counted}")


def wait_for_http(url: str, *, timeout: float = 60.0) -> bool:
    """True once ``url`` answers (any HTTP status), False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (a local http URL)
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.3)
    return False
