"""Import jobs run once: a redelivered task neither runs a job twice nor loses a dead one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from readerstudy.studies.ingest.importer import ImportOptions
from readerstudy.studies.models import ImportJob
from readerstudy.studies.services import import_job_create, import_job_run
from readerstudy.studies.tasks import study_import_job_run
from tests.support.ingest import ham_zip, stored_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_job(make_study, coordinator, ham_sample, tmp_path, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    study = make_study("malignant-vs-benign", require_biopsy_proven=False)
    archive = ham_zip(ham_sample, tmp_path, count=5)
    with django_capture_on_commit_callbacks():
        return import_job_create(
            study=study,
            created_by=coordinator,
            source=ImportJob.Source.API,
            options=ImportOptions(),
            zip_file=SimpleUploadedFile("set.zip", archive.read_bytes()),
        )


def test_a_job_that_another_worker_is_running_is_left_alone(queued_job) -> None:
    ImportJob.objects.filter(pk=queued_job.pk).update(status="running", heartbeat_at=timezone.now())
    assert import_job_run(import_job_id=queued_job.pk) == "busy"
    assert not queued_job.study.cases.exists()


def test_the_task_retries_later_while_another_worker_runs_the_job(queued_job) -> None:
    from celery.exceptions import Retry

    ImportJob.objects.filter(pk=queued_job.pk).update(status="running", heartbeat_at=timezone.now())
    with pytest.raises(Retry):
        study_import_job_run.apply(kwargs={"import_job_id": queued_job.pk}, throw=True)


def test_a_job_whose_worker_died_is_taken_over_and_its_leftover_files_removed(
    queued_job,
) -> None:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    # The dead attempt had stored a file and then stopped reporting progress.
    leftover = default_storage.save(f"cases/{queued_job.token}/old-full.jpg", ContentFile(b"x"))
    ImportJob.objects.filter(pk=queued_job.pk).update(
        status="running", attempts=1, heartbeat_at=timezone.now() - timedelta(minutes=10)
    )

    assert import_job_run(import_job_id=queued_job.pk) == "done"

    queued_job.refresh_from_db()
    assert (queued_job.status, queued_job.attempts, queued_job.cases_created) == ("succeeded", 2, 5)
    assert leftover not in stored_files()
    assert queued_job.study.cases.count() == 5


def test_a_finished_job_is_never_run_again(queued_job) -> None:
    assert import_job_run(import_job_id=queued_job.pk) == "done"
    assert import_job_run(import_job_id=queued_job.pk) == "finished"
    assert queued_job.study.cases.count() == 5
