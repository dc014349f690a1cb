"""``manage.py score_study --wait``: it checks for a worker before it waits."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from readerstudy.scoring.models import CnnScore
from tests.support.cases import ham10000_study
from tests.support.worker import purge_queues, running_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_score_study_wait_says_at_once_that_no_worker_answers(default_model, capsys) -> None:
    study = ham10000_study(2)
    purge_queues(["cpu"])
    try:
        # Without the ping this waits out --timeout and blames nothing in particular.
        with pytest.raises(CommandError, match="no worker answered on the scoring queue 'cpu'"):
            call_command("score_study", study.pk, wait=True, ping_timeout=1, timeout=600)
    finally:
        purge_queues(["cpu"])
    assert "2 cases sent" in capsys.readouterr().out
    assert not CnnScore.objects.filter(case__study=study).exists()


def test_score_study_wait_scores_every_case_when_a_worker_answers(
    default_model, worker_log_dir, capsys
) -> None:
    study = ham10000_study(4)
    purge_queues(["cpu"])
    with running_worker(worker_log_dir, queues=["cpu"]):
        call_command("score_study", study.pk, wait=True, ping_timeout=120, timeout=600)
    assert "scored 4 of 4, failed 0" in capsys.readouterr().out
    assert CnnScore.objects.filter(case__study=study).count() == 4
