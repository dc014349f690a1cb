"""The demo installation: accounts for every role, a worker and the web server on one machine.

Everything here is idempotent: a second run finds the accounts and reuses their passwords,
which the first run generated and saved in ``var/demo-logins.json`` (readable by the owner
only).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User

from readerstudy.accounts.roles import Role
from readerstudy.accounts.services import initial_password_generate, user_create, user_roles_add


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: Role


def demo_logins_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-logins.json"


def demo_accounts_ensure(*, readers: int) -> list[DemoLogin]:
    """Create (or find) a coordinator, an analyst and ``readers`` reader accounts."""
    path = demo_logins_path()
    saved: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = [("coordinator", Role.COORDINATOR), ("analyst", Role.ANALYST)] + [
        (f"reader{n}", Role.READER) for n in range(1, readers + 1)
    ]
    logins = []
    for username, role in wanted:
        password = saved.get(username) or initial_password_generate()
        user = User.objects.filter(username=username).first()
        if user is None:
            user_create(username=username, roles=[role], password=password)
        elif username not in saved or not user.check_password(password):
            # An account from an earlier demo whose password file was lost: reset it once.
            user.set_password(password)
            user.save(update_fields=["password"])
            user_roles_add(user=user, roles=[role])
        saved[username] = password
        logins.append(DemoLogin(username=username, password=password, role=role))
    path.write_text(json.dumps(saved, indent=2))
    path.chmod(0o600)
    return logins


@dataclass
class DemoProcesses:
    worker: subprocess.Popen[bytes] | None = None
    web: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        for process in (self.web, self.worker):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in (self.web, self.worker):
            if process:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


def _spawn(command: Sequence[str], log_name: str) -> subprocess.Popen[bytes]:
    log_dir = Path(settings.VAR_DIR) / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / log_name).open("ab") as log:
        return subprocess.Popen(
            list(command),
            cwd=settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def demo_worker_start(*, concurrency: int = 1) -> subprocess.Popen[bytes]:
    """A Celery worker (with the beat scheduler) on the default and CPU scoring queues."""
    return _spawn(
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


def demo_web_start(*, host: str, port: int) -> subprocess.Popen[bytes]:
    """gunicorn, as in production, serving static files through WhiteNoise."""
    return _spawn(
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


def wait_for_http(url: str, *, timeout: float = 60.0) -> bool:
    """True once ``url`` answers (any HTTP status), False after ``timeout`` seconds."""
    import urllib.error
    import urllib.request

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
