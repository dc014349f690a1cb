from __future__ import annotations

import time

import pytest

from readerstudy.scoring.models import CaseScoring, CnnScore
from readerstudy.scoring.selectors import active_model_for_task
from readerstudy.studies.models import Study
from tests.factories import StudyFactory
from tests.support.cases import add_real_cases, ham10000_rows


@pytest.fixture
def default_model(db):
    model_version = active_model_for_task("melanoma-vs-nevus")
    assert model_version is not None, "migrate registers the shipped model"
    return model_version


def real_study(n_cases: int, **kwargs: object) -> Study:
    study = StudyFactory(**kwargs)
    rows = ham10000_rows()
    # Alternate melanomas and nevi so that every sample has both classes.
    mel = [r for r in rows if r["dx"] == "mel"]
    nv = [r for r in rows if r["dx"] == "nv"]
    mixed = [r for pair in zip(mel, nv, strict=False) for r in pair][:n_cases]
    add_real_cases(study, mixed)
    return study


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
