"""study_scoring_start: the task an import sends by name to start its study's scoring."""

from __future__ import annotations

import pytest

from readerstudy.scoring.models import ScoringRun
from readerstudy.scoring.tasks import study_scoring_start
from readerstudy.studies.ingest.importer import STUDY_SCORING_START_TASK
from tests.factories import CaseFactory, StudyFactory

pytestmark = pytest.mark.django_db


def test_the_name_the_import_sends_is_the_scoring_task() -> None:
    assert study_scoring_start.name == STUDY_SCORING_START_TASK


def test_it_sends_the_study_unscored_cases_once(default_model, coordinator) -> None:
    study = StudyFactory(created_by=coordinator)
    CaseFactory.create_batch(3, study=study)

    sent = study_scoring_start.run(
        study_id=study.pk, reason="import", requested_by_id=coordinator.pk
    )
    again = study_scoring_start.run(study_id=study.pk, reason="import")

    assert (sent, again) == (3, 0)  # a repeat sends only what is not already on its way
    run = ScoringRun.objects.filter(study=study).order_by("pk").first()
    assert (run.reason, run.requested_by, run.model_version) == (
        "import",
        coordinator,
        default_model,
    )


def test_a_study_deleted_before_the_task_ran_is_skipped() -> None:
    assert study_scoring_start.run(study_id=10**9, reason="import") == 0
