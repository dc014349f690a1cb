"""A model that weighs the patient's age and sex beside the image (classifier/models/
default-metadata.pt): registered as such, it scores and stands as the algorithm of a study
only where the readers see those details too (Haenssle et al. 2018, level II), and a worker
gives it each case's details."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from PIL import Image

from classifier import METADATA_CHECKPOINT
from classifier.clinical import ClinicalInfo
from classifier.predictor import Predictor
from classifier.taxonomy import load_taxonomy
from readerstudy.scoring.models import CnnScore, StudyAlgorithm
from readerstudy.scoring.registration import model_version_register
from readerstudy.scoring.selectors import study_algorithm_get
from readerstudy.scoring.services import (
    model_version_activate,
    study_algorithm_choose,
    study_scoring_enqueue,
)
from tests.support.cases import ham10000_study
from tests.support.scoring import wait_for_scores
from tests.support.worker import purge_queues, running_worker


@pytest.fixture
def clinical_model(db):
    model_version, created = model_version_register(path=METADATA_CHECKPOINT)
    assert created
    return model_version


@pytest.mark.django_db
def test_the_variant_is_registered_as_weighing_the_details(clinical_model, default_model):
    assert clinical_model.clinical_metadata is True
    assert default_model.clinical_metadata is False
    assert clinical_model.metrics["test"]["melanoma-vs-nevus"]["auc"] > 0.8


@pytest.mark.django_db
def test_it_cannot_become_the_model_of_a_whole_task(clinical_model, default_model):
    with pytest.raises(ValueError, match="show them to the readers"):
        model_version_activate(model_version=clinical_model, tasks=["melanoma-vs-nevus"])
    assert study_algorithm_get(ham10000_study(2)) == default_model


@pytest.mark.django_db
def test_a_study_whose_readers_do_not_see_the_details_is_refused(clinical_model):
    study = ham10000_study(2, show_clinical_info=False)
    with pytest.raises(ValueError, match="does not show them to its readers"):
        study_scoring_enqueue(study=study, model_version=clinical_model, reason="test")
    with pytest.raises(ValueError, match="does not show them to its readers"):
        study_algorithm_choose(study=study, model_version=clinical_model)
    shown = ham10000_study(2, show_clinical_info=True)
    run = study_scoring_enqueue(study=shown, model_version=clinical_model, reason="test")
    assert run is not None and run.n_cases == 2


@pytest.mark.django_db
def test_a_choice_made_before_a_draft_stopped_showing_the_details_is_passed_over(
    clinical_model, default_model
):
    study = ham10000_study(2, show_clinical_info=True, status="draft")
    StudyAlgorithm.objects.create(study=study, model_version=clinical_model)
    assert study_algorithm_get(study) == clinical_model
    study.show_clinical_info = False
    study.save(update_fields=["show_clinical_info"])
    assert study_algorithm_get(study) == default_model


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_scores_each_case_with_its_patient_s_details(
    clinical_model, worker_log_dir, settings
):
    study = ham10000_study(8, show_clinical_info=True)
    cases = list(study.cases.order_by("position"))
    assert any(case.age is not None for case in cases)
    purge_queues(["cpu"])
    with running_worker(worker_log_dir, queues=["cpu"]) as worker:
        with transaction.atomic():
            study_scoring_enqueue(study=study, model_version=clinical_model, reason="test")
        scored, failed = wait_for_scores(study, clinical_model, expected=8, worker=worker)
    assert (scored, failed) == (8, 0)
    predictor = Predictor.from_checkpoint(METADATA_CHECKPOINT, device="cpu", precision="auto")
    task = load_taxonomy().task(study.task)
    for score in CnnScore.objects.filter(model_version=clinical_model).select_related("case"):
        case = score.case
        with case.display_image.open("rb") as handle, Image.open(handle) as image:
            batch = predictor.transform(image.convert("RGB"))[None]
        details = ClinicalInfo.of(case.age, case.sex, case.site)
        expected = predictor.predict(batch, metadata=[details]).fine
        assert score.probability == pytest.approx(
            float(load_taxonomy().task_probability(expected, task)[0]), abs=1e-4
        )
        # Another patient with the same image gets another score: the details were used.
        other = ClinicalInfo(20 if (case.age or 50) > 50 else 85, "female")
        moved = predictor.predict(batch, metadata=[other]).fine
        assert not np.allclose(moved, expected, atol=1e-3)


@pytest.mark.django_db
def test_the_pages_the_api_and_the_command_say_why_instead_of_failing(
    clinical_model, coordinator_client
):
    page = coordinator_client.get("/scoring/models/").content.decode()
    assert "the patient's age and sex: it scores only studies that show" in page
    assert f'action="/scoring/models/{clinical_model.pk}/activate/"' not in page
    assert f"score_study STUDY --model {clinical_model.pk}" in page
    response = coordinator_client.post(
        f"/scoring/models/{clinical_model.pk}/activate/", {"task": "melanoma-vs-nevus"}, follow=True
    )
    assert response.status_code == 200
    assert "show them to the readers" in response.content.decode().replace("&#x27;", "'")
    answer = coordinator_client.post(
        f"/api/v1/scoring/models/{clinical_model.pk}/activate/",
        {"tasks": ["melanoma-vs-nevus"]},
        content_type="application/json",
    )
    assert answer.status_code == 400 and "show them to the readers" in answer.json()["tasks"][0]
    card = coordinator_client.get(f"/api/v1/scoring/models/{clinical_model.pk}/").json()
    assert card["clinical_metadata"] is True
    study = ham10000_study(2, show_clinical_info=False)
    with pytest.raises(CommandError, match="does not show them to its readers"):
        call_command("score_study", study.pk, model=clinical_model.pk)
    assert not CnnScore.objects.filter(case__study=study).exists()


@pytest.mark.django_db
def test_the_analysis_says_the_algorithm_weighed_what_the_readers_saw(
    clinical_model, analyst_client
):
    study = ham10000_study(2, show_clinical_info=True)
    StudyAlgorithm.objects.create(study=study, model_version=clinical_model)
    page = analyst_client.get(f"/analysis/studies/{study.pk}/")
    assert page.status_code == 200
    html = page.content.decode().replace("&#x27;", "'")
    assert clinical_model.name in html
    assert "it weighs the patient's age and sex, which the readers saw too" in html
    body = analyst_client.get(f"/api/v1/analysis/studies/{study.pk}/").json()
    assert body["model"]["clinical_metadata"] is True
