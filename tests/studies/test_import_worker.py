"""An uploaded image set is imported by a real Celery worker process."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from readerstudy.studies.models import ImportJob
from readerstudy.studies.services import import_job_run
from tests.support.ingest import ham_zip, staged_files
from tests.support.worker import purge_queues, running_worker


def wait_until_finished(job_id: int, worker, timeout: float = 240) -> ImportJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ImportJob.objects.get(pk=job_id)
        if job.finished:
            return job
        time.sleep(0.2)
    pytest.fail(f"import {job_id} did not finish in {timeout} s:\n{worker.log()}")


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_imports_an_uploaded_zip_in_parallel_threads(
    coordinator, make_study, ham_sample, tmp_path, worker_log_dir
) -> None:
    study = make_study("malignant-vs-benign", require_biopsy_proven=False)
    # 70 images: enough for the worker to decode them in its pool of threads.
    archive = ham_zip(ham_sample, tmp_path, count=70)
    client = APIClient()
    client.force_authenticate(coordinator)
    purge_queues(["default"])

    with running_worker(worker_log_dir, queues=["default"]) as worker:
        response = client.post(
            f"/api/v1/studies/{study.pk}/imports/",
            {"archive": SimpleUploadedFile("ham-set.zip", archive.read_bytes())},
            format="multipart",
        )
        assert response.status_code == 202
        job = wait_until_finished(response.json()["id"], worker)

    assert job.status == "succeeded", (job.errors, worker.log())
    assert job.cases_created == 70 and study.cases.count() == 70
    assert job.report["imported_truth"] == {"positive": 30, "negative": 40}
    assert job.attempts == 1
    assert not any(name.startswith(job.token) for name in staged_files())
    # A redelivered message for a finished job changes nothing.
    assert import_job_run(import_job_id=job.pk) == "finished"
    assert study.cases.count() == 70
