"""The CNN's Grad-CAM map in the aided phase (``Study.ai_show_saliency``): asked for when the
case is served, drawn by a worker for the task's positive side, and shown only to a reader who
has reached the case's aided phase."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from PIL import Image

from classifier.explain import grad_cam
from readerstudy.reading.models import Phase, ReadingOrder, ServedCase
from readerstudy.reading.services import serving
from readerstudy.scoring.inference import network_predictor_for
from readerstudy.scoring.models import InsightStatus, ModelVersion, SaliencyMap
from readerstudy.scoring.saliency import (
    STUDY_SALIENCY_PREPARE_TASK,
    TARGET_TASK,
    saliency_map_compute,
)
from readerstudy.scoring.selectors import model_version_active_get
from readerstudy.scoring.tasks import study_saliency_prepare
from readerstudy.studies.models import Case
from readerstudy.studies.services import study_status_set, study_update
from tests.factories import CaseFactory, EnrolmentFactory, StudyFactory, cnn_scores_create
from tests.support.reading import next_case, submit
from tests.support.session import logged_in

pytestmark = pytest.mark.django_db

PROBABILITIES = [0.91, 0.12, 0.37]


def _study(probabilities=PROBABILITIES, **fields):
    study = StudyFactory(status="draft", ai_assistance="sequential", **fields)
    cases = [CaseFactory(study=study, position=n) for n in range(len(probabilities))]
    model = model_version_active_get(study.task)
    cnn_scores_create(cases, model, probabilities, [[0.0, 1.0]] * len(cases))
    study = study_status_set(study=study, status="open", acknowledged_by=study.created_by)
    return study, model


def _png(response) -> Image.Image:
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\x89PNG")
    return Image.open(io.BytesIO(body))


def test_the_map_is_asked_for_at_serving_and_shown_only_in_the_aided_phase(
    reader_a, reader_a_client, reader_b, reader_b_client, coordinator
):
    study, model = _study(ai_show_saliency=True)
    EnrolmentFactory(study=study, reader=reader_a)
    EnrolmentFactory(study=study, reader=reader_b, pseudonym="R02")

    first = next_case(reader_a_client, study)["case"]
    assert first["phase"] == "unaided" and first["ai"] is None
    case = Case.objects.get(public_id=uuid.UUID(first["id"]))
    # Asked for already, for this case and the next, while the reader answers unaided.
    asked = SaliencyMap.objects.filter(model_version=model, target=TARGET_TASK)
    assert asked.count() == 2 and case.pk in set(asked.values_list("case_id", flat=True))
    assert set(asked.values_list("status", flat=True)) == {InsightStatus.PENDING}
    url = f"/reading/images/{case.public_id}/saliency/"
    # Before the aided phase the map is nowhere, whoever asks.
    assert reader_a_client.get(url).status_code == 404

    aided = submit(reader_a_client, study, first["token"], "reassure", 40).json()["next"]["case"]
    assert aided["phase"] == "aided" and aided["id"] == first["id"]
    assert aided["ai"]["saliency_url"] == url
    # A worker is still drawing it.
    pending = reader_a_client.get(url)
    assert pending.status_code == 202 and pending.json() == {"status": "pending"}

    saliency_map_compute(saliency_map_id=asked.get(case=case).pk)
    shown = reader_a_client.get(url)
    assert shown.status_code == 200 and shown["Content-Type"] == "image/png"
    assert "Content-Disposition" not in shown
    overlay = _png(shown)
    with case.display_image.open("rb") as handle, Image.open(handle) as display:
        assert overlay.size == display.size
    assert not overlay.info.get("exif") and not any(
        key in overlay.info for key in ("comment", "Comment", "Description", "parameters")
    ), overlay.info

    # Reader B is enrolled too, but has not reached this case's aided phase; the coordinator
    # and an anonymous caller are not readers of the study.
    assert reader_b_client.get(url).status_code == 404
    assert logged_in(coordinator).get(url).status_code == 404
    assert Client().get(url).status_code == 404


def test_a_readers_first_case_has_a_worker_ask_for_every_map_in_their_order(
    reader_a, reader_a_client, reader_b, reader_b_client, monkeypatch
):
    """So that the aided phase rarely waits for a map: asked for only at serving (this case
    and the next), a quick reader could reach an aided phase before its map was drawn."""
    study, model = _study([0.9, 0.1, 0.4, 0.7, 0.2, 0.6, 0.3, 0.8], ai_show_saliency=True)
    EnrolmentFactory(study=study, reader=reader_a)
    EnrolmentFactory(study=study, reader=reader_b, pseudonym="R02")
    sent = []
    monkeypatch.setattr(serving, "enqueue_on_commit", lambda name, **kw: sent.append((name, kw)))

    next_case(reader_a_client, study)
    order = ReadingOrder.objects.get(enrolment__reader=reader_a).case_ids
    assert order != sorted(order)  # a reader's own order, not the cases' ids
    assert sent == [(STUDY_SALIENCY_PREPARE_TASK, {"study_id": study.pk, "case_ids": order})]
    # The worker asks for the rest in the reader's order, after the two asked at serving.
    study_saliency_prepare(study_id=study.pk, case_ids=order)
    asked = SaliencyMap.objects.filter(model_version=model, target=TARGET_TASK).order_by("pk")
    assert list(asked.values_list("case_id", flat=True)) == order
    # Reader B's order has them all already: nothing is asked for twice.
    sent.clear()
    next_case(reader_b_client, study)
    (_, kwargs), *_ = sent
    study_saliency_prepare(**kwargs)
    assert asked.count() == len(order)
    # A second request of a reader with an order sends nothing.
    sent.clear()
    next_case(reader_a_client, study)
    assert sent == []


def test_a_study_without_maps_sends_no_map_request_when_a_reader_starts(
    reader_a, reader_a_client, monkeypatch
):
    study, _ = _study()
    EnrolmentFactory(study=study, reader=reader_a)
    sent = []
    monkeypatch.setattr(serving, "enqueue_on_commit", lambda name, **kw: sent.append((name, kw)))
    next_case(reader_a_client, study)
    assert sent == []


def test_the_task_map_explains_the_positive_side(reader_a, reader_a_client):
    study, model = _study(ai_show_saliency=True)
    EnrolmentFactory(study=study, reader=reader_a)
    next_case(reader_a_client, study)
    saliency = SaliencyMap.objects.filter(model_version=model, target=TARGET_TASK).first()
    saliency_map_compute(saliency_map_id=saliency.pk)
    saliency.refresh_from_db()
    assert saliency.status == InsightStatus.READY and saliency.seconds is not None
    # The same image explained for the task's positive side and for its negative side differ.
    predictor = network_predictor_for(model)
    with saliency.case.display_image.open("rb") as handle, Image.open(handle) as raw:
        image = raw.convert("RGB")
    positive = grad_cam(predictor, image, target=tuple(study.task_definition["positive"]))
    negative = grad_cam(predictor, image, target=tuple(study.task_definition["negative"]))
    assert positive.shape == (image.height, image.width)
    assert float(abs(positive - negative).max()) > 0.01


def test_without_the_setting_no_map_is_asked_for_or_served(reader_a, reader_a_client):
    study, _ = _study()
    EnrolmentFactory(study=study, reader=reader_a)
    first = next_case(reader_a_client, study)["case"]
    aided = submit(reader_a_client, study, first["token"], "biopsy", 70).json()["next"]["case"]
    assert aided["phase"] == "aided" and aided["ai"]["saliency_url"] is None
    assert not SaliencyMap.objects.filter(target=TARGET_TASK).exists()
    assert ServedCase.objects.filter(phase=Phase.AIDED).exists()
    assert reader_a_client.get(f"/reading/images/{first['id']}/saliency/").status_code == 404


def test_a_model_without_a_network_here_shows_no_map(reader_a, reader_a_client):
    study, model = _study(ai_show_saliency=True)
    ModelVersion.objects.filter(pk=model.pk).update(kind=ModelVersion.Kind.ONNX)
    EnrolmentFactory(study=study, reader=reader_a)
    first = next_case(reader_a_client, study)["case"]
    aided = submit(reader_a_client, study, first["token"], "biopsy", 70).json()["next"]["case"]
    assert aided["ai"]["available"] is True and aided["ai"]["saliency_url"] is None
    assert not SaliencyMap.objects.exists()


def test_a_failed_map_is_not_shown(reader_a, reader_a_client):
    study, _ = _study(ai_show_saliency=True)
    EnrolmentFactory(study=study, reader=reader_a)
    first = next_case(reader_a_client, study)["case"]
    submit(reader_a_client, study, first["token"], "biopsy", 70)
    SaliencyMap.objects.update(status=InsightStatus.FAILED, error="RuntimeError: boom")
    response = reader_a_client.get(f"/reading/images/{first['id']}/saliency/")
    assert response.status_code == 404 and b"boom" not in response.content


def test_the_map_needs_ai_assisted_reading():
    study = StudyFactory(status="draft")
    with pytest.raises(ValidationError, match="Grad-CAM"):
        study_update(study=study, ai_show_saliency=True)
    study = StudyFactory(status="draft", ai_assistance="crossover")
    assert study_update(study=study, ai_show_saliency=True).ai_show_saliency is True


def test_the_consent_page_tells_readers_that_they_will_see_the_map(reader_a, reader_a_client):
    shows, _ = _study(ai_show_saliency=True, consent_text="Read carefully.")
    plain, _ = _study(consent_text="Read carefully.")
    for study in (shows, plain):
        EnrolmentFactory(study=study, reader=reader_a)
    page = reader_a_client.get(f"/reading/studies/{shows.pk}/consent/")
    assert b'id="consent-saliency"' in page.content and b"map of the image" in page.content
    page = reader_a_client.get(f"/reading/studies/{plain.pk}/consent/")
    assert page.status_code == 200 and b"map of the image" not in page.content
