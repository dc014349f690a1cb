"""Scoring through a real worker process, broker and database, on real images."""

from __future__ import annotations

import os
import re
import signal
import time

import numpy as np
import pytest
from django.db import transaction
from PIL import Image

from classifier import DEFAULT_CHECKPOINT
from classifier.checkpoint import file_sha256
from classifier.predictor import Predictor
from classifier.taxonomy import load_taxonomy
from readerstudy.scoring.models import CaseScoring, CnnScore
from readerstudy.scoring.services import scores_reconcile, study_scoring_enqueue
from tests.support.cases import ham10000_study
from tests.support.scoring import wait_for_scores
from tests.support.worker import purge_queues, running_worker, worker_environment

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_every_case_gets_exactly_one_score_that_matches_the_predictor(
    default_model, worker_log_dir, settings
) -> None:
    settings.READERSTUDY_SCORING_CHUNK = 8
    study = ham10000_study(24)
    purge_queues(["cpu"])
    with running_worker(worker_log_dir, queues=["cpu"]) as worker:
        with transaction.atomic():
            study_scoring_enqueue(study=study, reason="test")
        # A second request while the first is under way sends nothing more.
        assert study_scoring_enqueue(study=study, reason="test again").n_cases == 0
        scored, failed = wait_for_scores(study, default_model, expected=24, worker=worker)
    assert (scored, failed) == (24, 0)
    scores = CnnScore.objects.filter(case__study=study)
    assert scores.count() == 24
    assert set(scores.values_list("model_version__sha256", flat=True)) == {
        file_sha256(DEFAULT_CHECKPOINT)
    }

    predictor = Predictor.from_checkpoint(DEFAULT_CHECKPOINT, device="cpu", precision="auto")
    taxonomy = load_taxonomy()
    task = taxonomy.task(study.task)
    for score in scores.select_related("case")[:6]:
        with score.case.display_image.open("rb") as handle, Image.open(handle) as image:
            expected = predictor.predict(predictor.transform(image.convert("RGB"))[None])
        assert score.probability == pytest.approx(
            float(taxonomy.task_probability(expected.fine, task)[0]), abs=1e-5
        )
        assert sum(score.fine_probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert np.frombuffer(bytes(score.embedding), dtype=np.float16).size > 0
        assert score.worker_host.startswith(worker.name)


def test_a_worker_child_killed_mid_batch_loses_no_case_and_duplicates_none(
    default_model, worker_log_dir, settings
) -> None:
    settings.READERSTUDY_SCORING_CHUNK = 6
    study = ham10000_study(36)
    purge_queues(["cpu"])
    env = worker_environment(READERSTUDY_SCORING_BATCH="3")
    with running_worker(worker_log_dir, queues=["cpu"], env=env) as worker:
        study_scoring_enqueue(study=study, reason="test")
        deadline = time.monotonic() + 180
        while CnnScore.objects.filter(case__study=study).count() < 8:
            assert time.monotonic() < deadline, worker.log()
            time.sleep(0.05)
        children = worker.child_pids()
        assert children, "a prefork worker has a child process"
        os.kill(children[0], signal.SIGKILL)
        scored, failed = wait_for_scores(study, default_model, expected=36, worker=worker)
    assert (scored, failed) == (36, 0)
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log()


def test_an_unreadable_image_ends_failed_after_three_attempts_while_the_rest_finish(
    default_model, worker_log_dir, settings
) -> None:
    settings.READERSTUDY_SCORING_CHUNK = 10
    study = ham10000_study(10)
    poison = study.cases.order_by("position")[3]
    with poison.display_image.open("wb") as handle:
        handle.write(b"\xff\xd8\xff\xe0 this is not a JPEG any more")
    purge_queues(["cpu"])
    with running_worker(worker_log_dir, queues=["cpu"]) as worker:
        study_scoring_enqueue(study=study, reason="test")
        scored, failed = wait_for_scores(study, default_model, expected=10, worker=worker)
    assert (scored, failed) == (9, 1)
    state = CaseScoring.objects.get(case=poison, model_version=default_model)
    assert state.status == CaseScoring.Status.FAILED
    assert state.attempts == 3
    # The stored error names the exception, for the coordinator to act on.
    assert re.match(r"\w*(Error|Exception): ", state.error), state.error


def test_the_reconciler_scores_cases_whose_messages_were_dropped(
    default_model, worker_log_dir, settings
) -> None:
    from datetime import timedelta

    study = ham10000_study(12)
    purge_queues(["cpu"])
    study_scoring_enqueue(study=study, reason="test")
    assert purge_queues(["cpu"]) >= 1, "the messages were on the broker and are now lost"
    assert scores_reconcile() == 0, "recently sent cases are left to their messages"
    assert scores_reconcile(stale_after=timedelta(0)) == 12
    with running_worker(worker_log_dir, queues=["cpu"]) as worker:
        scored, failed = wait_for_scores(study, default_model, expected=12, worker=worker)
    assert (scored, failed) == (12, 0)
