"""The Celery application and the one way every task in readerstudy is declared and sent.

Start a worker with ``celery -A readerstudy.celery worker -Q default,cpu`` (add ``gpu`` on a
machine with a GPU). Every task is declared with :func:`task`, which makes it safe to run
twice: the message is acknowledged only after the task finished (``acks_late``), it goes back
to the queue if the worker process dies (``reject_on_worker_lost``), database outages are
retried with exponential back-off, and a hard time limit stops a stuck task. Tasks must be
idempotent (a unique constraint makes a repeat harmless) and take primary keys, never
model instances.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from celery import Celery, Task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "readerstudy.settings")

app = Celery("readerstudy")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

F = TypeVar("F", bound=Callable[..., Any])

# Failures worth another try: the database or broker went away for a moment.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


def _transient_errors() -> tuple[type[BaseException], ...]:
    return (*TRANSIENT_ERRORS, OperationalError, InterfaceError)


def task(
    *,
    queue: str = "default",
    max_retries: int = 5,
    time_limit: int | None = None,
    autoretry_for: tuple[type[BaseException], ...] = (),
    **options: Any,
) -> Callable[[F], Task]:
    """Declare a Celery task with the platform's delivery guarantees.

    ``queue`` picks the workers ("default", or "cpu"/"gpu" for CNN scoring);
    ``autoretry_for`` adds exceptions beyond the transient database and connection errors
    that are always retried. The task is bound: its first argument is the task itself.
    """
    limit = time_limit or settings.CELERY_TASK_TIME_LIMIT

    def decorate(function: F) -> Task:
        return app.task(  # type: ignore[no-any-return]
            bind=True,
            name=f"{function.__module__}.{function.__name__}",
            queue=queue,
            acks_late=True,
            reject_on_worker_lost=True,
            autoretry_for=(*_transient_errors(), *autoretry_for),
            max_retries=max_retries,
            retry_backoff=2,
            retry_backoff_max=60,
            retry_jitter=True,
            time_limit=limit,
            soft_time_limit=max(limit - 30, 1),
            **options,
        )(function)

    return decorate


def task_by_name(name: str) -> Task:
    """The registered task called ``name`` (``<module>.<function>``, as ``task`` names them).

    How a service sends a task without importing its ``tasks`` module, which imports the
    service (a cycle; import-linter refuses it). Unlike a bare ``send_task``, an unknown name
    raises KeyError at once, so a renamed task fails the tests instead of sending to nobody,
    and the task's own queue, retries and eager mode apply.
    """
    if name not in app.tasks:
        # A web process registers tasks as their modules are imported; a worker has them
        # all. This imports every app's tasks module, as a starting worker does.
        app.loader.import_default_modules()
    return app.tasks[name]


def enqueue_on_commit(celery_task: Task | str, *, queue: str | None = None, **kwargs: Any) -> None:
    """Send ``celery_task(**kwargs)`` once the current transaction commits.

    ``celery_task`` is a task or its registered name (see ``task_by_name``). A rolled-back
    transaction sends nothing, and the worker never sees rows that are not yet visible to it.
    Outside a transaction the task is sent at once.
    """
    if isinstance(celery_task, str):
        celery_task = task_by_name(celery_task)
    options = {"queue": queue} if queue else {}
    transaction.on_commit(lambda: celery_task.apply_async(kwargs=kwargs, **options))


def _make_spool_folders() -> None:
    """Create the filesystem broker's folders (the embedded default needs no server)."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = options.get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)


if str(app.conf.broker_url or "").startswith("filesystem://"):
    _make_spool_folders()
