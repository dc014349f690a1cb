"""A draft study can be deleted and an import of a draft undone, all or nothing, files too."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from readerstudy.scoring import tasks as scoring_tasks
from readerstudy.scoring import worker as scoring_worker
from readerstudy.scoring.models import CnnScore
from readerstudy.scoring.selectors import model_version_active_get
from readerstudy.studies.models import Case, ImportJob, Study
from readerstudy.studies.services import import_undo, study_delete, study_status_set
from tests.support.imports import import_set
from tests.support.ingest import ham_subset, read_csv, stored_files

pytestmark = pytest.mark.django_db


def import_diagnoses(study: Study, ham_sample, tmp_path, *diagnoses: str):
    """Import the sample's images of ``diagnoses`` into ``study``."""
    _, rows = read_csv(ham_sample / "HAM10000_metadata.csv")
    ids = [r["image_id"] for r in rows if r["dx"] in diagnoses]
    images, manifest = ham_subset(ham_sample, tmp_path / "-".join(diagnoses), ids)
    return import_set(study, images, manifest)


@pytest.fixture
def draft(make_study) -> Study:
    return make_study(name="Draft to delete", require_biopsy_proven=False)


def test_an_import_without_negatives_says_so_in_its_report(draft, ham_sample, tmp_path) -> None:
    first = import_diagnoses(draft, ham_sample, tmp_path, "mel")
    assert first.report["study_truth"] == {"positive": 10, "negative": 0}
    assert first.report["warnings"] == [
        "the study has no negative case yet: it cannot be opened until an import adds one "
        "(readers' sensitivity and specificity need both)"
    ]
    second = import_diagnoses(draft, ham_sample, tmp_path, "nv")
    assert second.report["study_truth"] == {"positive": 10, "negative": 10}
    assert second.report["warnings"] == []


def test_the_import_page_shows_the_warning(draft, ham_sample, tmp_path, coordinator_client) -> None:
    job = import_diagnoses(draft, ham_sample, tmp_path, "nv").job
    page = coordinator_client.get(f"/studies/{draft.pk}/imports/{job.pk}/").content.decode()
    assert "Warning: the study has no positive case yet" in page


def test_deleting_a_draft_removes_its_rows_and_stored_images(
    draft, ham_sample, tmp_path, django_capture_on_commit_callbacks
) -> None:
    before = stored_files()
    import_diagnoses(draft, ham_sample, tmp_path, "mel", "nv")
    assert len(stored_files() - before) >= 20
    with django_capture_on_commit_callbacks(execute=True):
        study_delete(study=draft)
    assert not Study.objects.filter(pk=draft.pk).exists()
    assert not Case.objects.exists() and not ImportJob.objects.exists()
    assert stored_files() == before


def test_an_open_study_cannot_be_deleted_and_keeps_everything(
    draft, ham_sample, tmp_path, coordinator
) -> None:
    import_diagnoses(draft, ham_sample, tmp_path, "mel", "nv")
    # Two mel/nv images rightly warn on colour; the audit is not under test here.
    study_status_set(study=draft, status=Study.Status.OPEN, acknowledged_by=coordinator)
    files = stored_files()
    with pytest.raises(ValidationError, match="only a draft study can be deleted"):
        study_delete(study=draft)
    client = APIClient()
    client.force_authenticate(coordinator)
    assert client.delete(f"/api/v1/studies/{draft.pk}/").status_code == 400
    assert Case.objects.filter(study=draft).count() == 20 and stored_files() == files


def test_undoing_an_import_removes_its_cases_and_images_and_keeps_the_others(
    draft, ham_sample, tmp_path, django_capture_on_commit_callbacks
) -> None:
    before = stored_files()
    kept = import_diagnoses(draft, ham_sample, tmp_path, "mel")
    kept_files = stored_files()
    undone = import_diagnoses(draft, ham_sample, tmp_path, "nv")
    with django_capture_on_commit_callbacks(execute=True):
        job = import_undo(job=undone.job)
    assert job.status == ImportJob.Status.UNDONE and job.report["undone"]["cases"] == 10
    assert set(Case.objects.filter(study=draft).values_list("import_job", flat=True)) == {
        kept.job.pk
    }
    assert stored_files() == kept_files and len(kept_files - before) >= 10
    with pytest.raises(ValidationError, match="only a finished import can be undone"):
        import_undo(job=job)


def test_the_api_undoes_an_import_only_while_the_study_is_a_draft(
    draft, ham_sample, tmp_path, coordinator
) -> None:
    client = APIClient()
    client.force_authenticate(coordinator)
    first = import_diagnoses(draft, ham_sample, tmp_path, "mel").job
    second = import_diagnoses(draft, ham_sample, tmp_path, "nv").job
    # Two mel/nv images rightly warn on colour; the audit is not under test here.
    study_status_set(study=draft, status=Study.Status.OPEN, acknowledged_by=coordinator)
    url = f"/api/v1/studies/{draft.pk}/imports/{second.pk}/undo/"
    refused = client.post(url)
    assert refused.status_code == 400 and "draft" in str(refused.json())
    assert Case.objects.filter(study=draft).count() == 20
    Study.objects.filter(pk=draft.pk).update(status=Study.Status.DRAFT)
    answer = client.post(f"/api/v1/studies/{draft.pk}/imports/{first.pk}/undo/")
    assert answer.status_code == 200 and answer.json()["status"] == "undone"
    assert Case.objects.filter(study=draft).count() == 10


def test_a_worker_skips_a_case_deleted_while_its_batch_was_scored(
    draft, ham_sample, tmp_path, monkeypatch
) -> None:
    import_diagnoses(draft, ham_sample, tmp_path, "mel")
    model_version = model_version_active_get(draft.task)
    case_ids = list(Case.objects.filter(study=draft).values_list("pk", flat=True)[:3])
    gone = case_ids[0]
    batches = scoring_worker.score_cases_in_batches

    def delete_midway(**kwargs):
        # The coordinator undoes the import while the worker is running the network.
        for batch in batches(**kwargs):
            Case.objects.filter(pk=gone).delete()
            yield batch

    monkeypatch.setattr(scoring_worker, "score_cases_in_batches", delete_midway)
    written = scoring_tasks.score_cases.run(model_version_id=model_version.pk, case_ids=case_ids)
    assert written == 2
    assert set(CnnScore.objects.values_list("case_id", flat=True)) == set(case_ids[1:])
