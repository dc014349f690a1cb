"""Waiting for a worker to score a study."""

from __future__ import annotations

import time

import pytest

from readerstudy.scoring.models import CaseScoring, CnnScore
from readerstudy.studies.models import Study


def wait_for_scores(study: Study, model_version, *, expected: int, worker, timeout: float = 240):
    """Block until ``expected`` cases of ``study`` are scored or FAILED."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scored = CnnScore.objects.filter(case__study=study, model_version=model_version).count()
        failed = CaseScoring.objects.filter(
            case__study=study, model_version=model_version, status=CaseScoring.Status.FAILED
        ).count()
        if scored + failed >= expected:
            return scored, failed
        if worker.process.poll() is not None:
            pytest.fail("the worker exited:\n" + worker.log())
        time.sleep(0.3)
    pytest.fail(f"only {scored} scored and {failed} failed of {expected}:\n" + worker.log()[-5000:])
