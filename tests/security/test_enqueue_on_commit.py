"""Task messages leave for the broker only when the import's transaction commits.

The messages are read back from the real broker (Redis in CI, the filesystem spool on a
bare checkout), so a message sent too early, or one per case instead of one per chunk,
shows here exactly as a worker would receive it.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from readerstudy.celery import app
from readerstudy.scoring.tasks import study_scoring_start
from readerstudy.studies.ingest.importer import STUDY_SCORING_START_TASK
from readerstudy.studies.models import Case, ImportJob, Study
from readerstudy.studies.services import (
    ImportOptions,
    ImportSource,
    import_job_create,
    study_create,
    study_import,
    task_resolve,
)
from tests.factories import jpeg_bytes
from tests.support.worker import purge_queues, queued_message_count

pytestmark = pytest.mark.django_db(transaction=True)

QUEUES = ("default", "cpu")
N_IMAGES = 10


def queued_tasks(queue: str) -> list[tuple[str, dict]]:
    """Take every message off ``queue``: (task name, keyword arguments) as a worker gets them."""
    taken = []
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            _args, kwargs, _embed = message.decode()
            taken.append((message.headers["task"], kwargs))
    return taken


@pytest.fixture
def empty_queues() -> None:
    """Empty queues before, and after: no worker ever runs what these tests send. The uploads
    they stage are removed too (a worker would have)."""
    staging = Path(django_settings.UPLOAD_ROOT) / "imports"
    before = set(staging.glob("*"))
    purge_queues(QUEUES)
    yield
    purge_queues(QUEUES)
    for folder in set(staging.glob("*")) - before:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def image_set(tmp_path: Path) -> ImportSource:
    """Ten small images and a generic manifest: half melanomas, half nevi, biopsy-proven."""
    folder = tmp_path / "images"
    folder.mkdir()
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "diagnosis", "biopsy_proven"])
        for n in range(N_IMAGES):
            (folder / f"lesion-{n}.jpg").write_bytes(jpeg_bytes(seed=1000 + n))
            writer.writerow([f"lesion-{n}.jpg", "mel" if n % 2 else "nv", "true"])
    return ImportSource(images=folder, manifest=manifest)


@pytest.fixture
def study(coordinator) -> Study:
    return study_create(
        name="enqueue study",
        task=task_resolve(name="melanoma-vs-nevus"),
        modality="dermoscopic",
        created_by=coordinator,
    )


def test_a_rolled_back_import_sends_no_scoring_message(
    empty_queues, study, image_set, coordinator
) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        result = study_import(
            study=study, source=image_set, options=ImportOptions(), created_by=coordinator
        )
        assert len(result.cases) == N_IMAGES  # imported, and the scoring asked for ...
        raise RuntimeError("a later step of the same transaction failed")
    # ... but the transaction rolled back: no case, and no message for a case that is not there.
    assert not Case.objects.exists()
    assert {queue: queued_message_count(queue) for queue in QUEUES} == {"default": 0, "cpu": 0}


def test_a_committed_import_sends_one_scoring_message_per_chunk_after_the_commit(
    empty_queues, study, image_set, coordinator, settings
) -> None:
    settings.READERSTUDY_SCORING_CHUNK = 4
    with transaction.atomic():
        study_import(study=study, source=image_set, options=ImportOptions(), created_by=coordinator)
        # Nothing leaves before the commit: a worker must never look for rows it cannot see.
        assert queued_message_count("cpu") == 0
        assert queued_message_count("default") == 0

    # The import (studies) starts its scoring by name; the scoring task sends the chunks.
    started = queued_tasks("default")
    assert started == [
        (
            STUDY_SCORING_START_TASK,
            {"study_id": study.pk, "reason": "import", "requested_by_id": coordinator.pk},
        )
    ]
    assert study_scoring_start.name == STUDY_SCORING_START_TASK
    study_scoring_start.apply(kwargs=started[0][1])  # as the worker would
    sent = queued_tasks("cpu")
    assert [name for name, _ in sent] == ["readerstudy.scoring.tasks.score_cases"] * 3
    assert sorted(len(kwargs["case_ids"]) for _, kwargs in sent) == [2, 4, 4]
    sent_ids = [pk for _, kwargs in sent for pk in kwargs["case_ids"]]
    assert sorted(sent_ids) == sorted(Case.objects.filter(study=study).values_list("pk", flat=True))


def _zip_upload(source: ImportSource) -> SimpleUploadedFile:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for image in sorted(source.images.iterdir()):
            bundle.write(image, f"images/{image.name}")
        bundle.write(source.manifest, "manifest.csv")
    return SimpleUploadedFile("set.zip", buffer.getvalue())


def test_an_upload_rolled_back_with_its_caller_sends_no_import_message(
    empty_queues, study, image_set, coordinator
) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        import_job_create(
            study=study,
            created_by=coordinator,
            source=ImportJob.Source.API,
            options=ImportOptions(),
            zip_file=_zip_upload(image_set),
        )
        raise RuntimeError("the request failed after the upload was staged")
    assert not ImportJob.objects.exists()
    assert {queue: queued_message_count(queue) for queue in QUEUES} == {"default": 0, "cpu": 0}


def test_a_committed_upload_sends_exactly_one_import_message(
    empty_queues, study, image_set, coordinator
) -> None:
    job = import_job_create(
        study=study,
        created_by=coordinator,
        source=ImportJob.Source.API,
        options=ImportOptions(),
        zip_file=_zip_upload(image_set),
    )
    assert queued_tasks("default") == [
        ("readerstudy.studies.tasks.study_import_job_run", {"import_job_id": job.pk})
    ]
    assert queued_message_count("cpu") == 0
