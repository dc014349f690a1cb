"""A 500-image scoring run survives killed workers, a lost Redis and a PostgreSQL restart.

Each test counts what reached the database: every case scored exactly once, none failed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from readerstudy.scoring.models import CaseScoring
from readerstudy.scoring.services import study_scoring_enqueue
from tests.support.env import require
from tests.support.faults import (
    N_CASES,
    assert_every_case_scored_once,
    fault_worker,
    scored,
    wait_until,
)
from tests.support.worker import worker_environment


def _kill_a_child_at(worker, study, model_version, fractions) -> int:
    kills = 0
    for fraction in fractions:
        wait_until(
            lambda f=fraction: scored(study, model_version) >= f * N_CASES,
            timeout=300,
            what=f"{fraction:.0%} scored",
            worker=worker,
        )
        children = worker.child_pids()
        assert children, "the prefork worker has pool processes"
        os.kill(children[0], signal.SIGKILL)
        kills += 1
    return kills


def test_killing_a_pool_process_at_25_50_75_percent_loses_nothing(
    scoring_study, default_model, workers, tmp_path
) -> None:
    workers.append(fault_worker(tmp_path))
    study_scoring_enqueue(study=scoring_study, reason="fault test")
    assert _kill_a_child_at(workers[0], scoring_study, default_model, (0.25, 0.5, 0.75)) == 3
    wait_until(
        lambda: scored(scoring_study, default_model) == N_CASES,
        timeout=300,
        what="every case scored",
        worker=workers[0],
    )
    assert_every_case_scored_once(scoring_study, default_model)
    assert workers[0].log().count("WorkerLostError") >= 3


def test_the_control_run_without_reject_on_worker_lost_does_lose_cases(
    scoring_study, default_model, workers, tmp_path
) -> None:
    """Proves the test above could see a loss: the same kill, with the guarantee switched off."""
    workers.append(fault_worker(tmp_path, READERSTUDY_FAULT_NO_REJECT="1"))
    study_scoring_enqueue(study=scoring_study, reason="control run")
    _kill_a_child_at(workers[0], scoring_study, default_model, (0.25,))
    # Wait until the queue has drained and nothing has been scored for a while.
    last, steady_since = -1, time.monotonic()
    while time.monotonic() - steady_since < 15:
        now = scored(scoring_study, default_model)
        if now != last:
            last, steady_since = now, time.monotonic()
        time.sleep(0.5)
    assert last < N_CASES, "with reject_on_worker_lost off, the killed chunk is lost"


def test_killing_the_whole_worker_and_starting_it_again_loses_nothing(
    scoring_study, default_model, workers, tmp_path
) -> None:
    # A short visibility timeout, so that Redis hands the unacknowledged messages of the dead
    # worker to the new one within a minute (production waits 1.5 x the task time limit).
    env = {"CELERY_TASK_TIME_LIMIT": "40"}
    workers.append(fault_worker(tmp_path, **env))
    study_scoring_enqueue(study=scoring_study, reason="fault test")
    wait_until(
        lambda: scored(scoring_study, default_model) >= N_CASES // 2,
        timeout=300,
        what="half scored",
        worker=workers[0],
    )
    workers[0].kill(signal.SIGKILL)
    workers.append(fault_worker(tmp_path, **env))
    wait_until(
        lambda: scored(scoring_study, default_model) == N_CASES,
        timeout=420,
        what="every case scored after the restart",
        worker=workers[1],
    )
    assert_every_case_scored_once(scoring_study, default_model)


def test_redis_killed_mid_run_is_recovered_by_the_reconciler(
    scoring_study, default_model, workers, tmp_path, fault_redis
) -> None:
    env = {
        "READERSTUDY_RECONCILE_SECONDS": "10",
        "READERSTUDY_SCORING_STALE_SECONDS": "20",
    }
    worker = fault_worker(tmp_path, **env)
    workers.append(worker)
    began = time.monotonic()
    study_scoring_enqueue(study=scoring_study, reason="fault test")
    wait_until(
        lambda: scored(scoring_study, default_model) >= N_CASES // 4,
        timeout=300,
        what="a quarter scored",
        worker=worker,
    )
    quarter = time.monotonic() - began
    fault_redis.kill()
    time.sleep(2)
    fault_redis.start()
    # The scheduler runs beside the worker in production; here a beat process of its own.
    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.support.fault_app",
            "beat",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        env=worker_environment(**env),
        stdout=(tmp_path / "beat.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # A clean run takes about four times as long as its first quarter.
        budget = 4 * quarter + 120
        wait_until(
            lambda: scored(scoring_study, default_model) == N_CASES,
            timeout=budget,
            what=f"every case scored within normal time + 120 s ({budget:.0f} s)",
            worker=worker,
        )
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(timeout=30)
    assert_every_case_scored_once(scoring_study, default_model)


def test_a_postgresql_restart_mid_run_loses_nothing(
    scoring_study, default_model, workers, tmp_path
) -> None:
    require(connection.vendor == "postgresql", "this test restarts PostgreSQL")
    version = os.listdir("/etc/postgresql")[0]
    workers.append(fault_worker(tmp_path))
    study_scoring_enqueue(study=scoring_study, reason="fault test")
    wait_until(
        lambda: scored(scoring_study, default_model) >= N_CASES // 3,
        timeout=300,
        what="a third scored",
        worker=workers[0],
    )
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        timeout=120,
    )
    connection.close()
    wait_until(
        lambda: scored(scoring_study, default_model) == N_CASES,
        timeout=420,
        what="every case scored after the restart",
        worker=workers[0],
    )
    assert_every_case_scored_once(scoring_study, default_model)


def test_a_poison_image_that_kills_decoding_fails_after_three_deliveries(
    scoring_study, default_model, workers, tmp_path
) -> None:
    poison = scoring_study.cases.order_by("position")[137]
    poison.source_id = "POISON-137"
    poison.save(update_fields=["source_id"])
    log = tmp_path / "poison-deliveries.log"
    workers.append(fault_worker(tmp_path, READERSTUDY_FAULT_POISON_LOG=str(log)))
    study_scoring_enqueue(study=scoring_study, reason="fault test")
    wait_until(
        lambda: (
            scored(scoring_study, default_model) == N_CASES - 1
            and CaseScoring.objects.filter(case=poison, status=CaseScoring.Status.FAILED).exists()
        ),
        timeout=420,
        what="every other case scored and the poison case FAILED",
        worker=workers[0],
    )
    deliveries = Path(log).read_text().split()
    assert 1 <= len(deliveries) <= 3, deliveries
    state = CaseScoring.objects.get(case=poison, model_version=default_model)
    assert state.attempts <= 3
    assert "died" in state.error


pytestmark = pytest.mark.faults
