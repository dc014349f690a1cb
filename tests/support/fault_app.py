"""The real Celery app, with faults switched on by environment variables, for the fault tests.

Start a worker with ``-A tests.support.fault_app``:
- ``READERSTUDY_FAULT_NO_REJECT=1``: the control run, scoring tasks with
  ``reject_on_worker_lost=False`` (a killed pool process loses its message);
- ``READERSTUDY_FAULT_POISON_LOG=PATH``: decoding the image of a case whose source id starts
  with ``POISON`` kills the pool process (SIGKILL), after noting the delivery in PATH.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from celery.signals import worker_init, worker_process_init

from readerstudy.celery import app

__all__ = ["app"]


@worker_init.connect
def _control_run(**kwargs: object) -> None:
    if os.environ.get("READERSTUDY_FAULT_NO_REJECT") == "1":
        app.tasks["readerstudy.scoring.tasks.score_cases"].reject_on_worker_lost = False


@worker_process_init.connect
def _poison(**kwargs: object) -> None:
    log = os.environ.get("READERSTUDY_FAULT_POISON_LOG")
    if not log:
        return
    from readerstudy.scoring import inference

    real = inference.load_case_tensor

    def load_or_die(predictor: object, case: object) -> object:
        if str(getattr(case, "source_id", "")).startswith("POISON"):
            with Path(log).open("a") as handle:
                handle.write(f"{case.pk}\n")  # type: ignore[attr-defined]
            os.kill(os.getpid(), signal.SIGKILL)
        return real(predictor, case)

    inference.load_case_tensor = load_or_die
