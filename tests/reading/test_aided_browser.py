"""AI-assisted reading in Chromium: a reader agrees to the consent text, answers a case on
their own, cannot change that answer, sees the CNN's output beside the same image and answers
again, with the CNN's Grad-CAM map where the study shows it; a crossover reader finds the second
session closed until the washout has passed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from readerstudy.reading.models import Decision
from readerstudy.scoring.models import SaliencyMap
from readerstudy.scoring.saliency import TARGET_TASK, saliency_map_compute
from readerstudy.scoring.selectors import model_version_active_get
from readerstudy.studies.models import Case, Enrolment
from readerstudy.studies.services import study_status_set
from tests.factories import cnn_scores_create
from tests.support.a11y import AXE, accessibility_violations
from tests.support.reading import enrol
from tests.support.realcases import real_study

from .test_grading_browser import PERCENT_LABEL, case_heading, log_in, shown_case_id

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

CONSENT = "Some outputs of the CNN may be wrong. Your answers are stored under a pseudonym."
# The CNN's malignancy probabilities of the study's cases, in their stored order.
CNN = [0.83, 0.21]


def _open_aided_study(n_cases: int, **fields):
    study = real_study(n_cases, status="draft", confidence_scale="0-100", **fields)
    cases = list(Case.objects.filter(study=study).order_by("position"))
    model = model_version_active_get("melanoma-vs-nevus")
    cnn_scores_create(cases, model, CNN[:n_cases], [[0.0, 1.0]] * n_cases)
    study = study_status_set(study=study, status="open", acknowledged_by=study.created_by)
    return study, {str(case.public_id): p for case, p in zip(cases, CNN, strict=False)}


def _answer(page, choice: str, confidence: str) -> None:
    page.locator(f"label[for=decision-{choice}]").click()
    page.get_by_label(PERCENT_LABEL).fill(confidence)
    page.get_by_role("button", name="Submit answer").click()


def test_a_sequential_reader_answers_alone_then_again_beside_the_cnn(page, reader_a, live_server):
    study, cnn = _open_aided_study(2, ai_assistance="sequential", consent_text=CONSENT)
    enrolment = enrol(study, reader_a)
    page.add_init_script(path=str(AXE))

    log_in(page, "reader_a")
    page.goto("/reading/")
    page.get_by_role("link", name="Start grading").click()
    # The consent text comes first, with what the design asks of the reader.
    page.get_by_role("heading", name="Before your first case: consent").wait_for()
    assert page.get_by_text(CONSENT).is_visible()
    assert page.get_by_text("You will answer each case twice").is_visible()
    assert accessibility_violations(page) == []
    page.get_by_role("button", name="I agree and start").click()

    case_heading(page, 1, 2).wait_for()
    assert Enrolment.objects.get(pk=enrolment.pk).consented_at is not None
    assert page.get_by_text("First answer: on your own").is_visible()
    assert not page.locator("#ai-panel").is_visible()
    first_case = shown_case_id(page)
    # Nothing of the CNN in the unaided page, visible or not.
    assert f"{round(cnn[first_case] * 100)}%" not in page.content()
    _answer(page, "biopsy", "70")

    # The same case again, now with the CNN's output and the locked first answer.
    page.get_by_text("Second answer: the same case").wait_for()
    case_heading(page, 1, 2).wait_for()
    assert shown_case_id(page) == first_case
    panel = page.locator("#ai-panel")
    assert panel.is_visible()
    assert panel.get_by_role("heading", name="The CNN's output").is_visible()
    expected = f"{round(cnn[first_case] * 100)}%"
    assert page.locator("#ai-probability").inner_text() == expected
    assert "malignant" in page.locator("#ai-probability-block").inner_text()
    assert page.locator("#ai-meter").get_attribute("value") is not None
    locked = page.locator("#ai-unaided-answer")
    assert locked.is_visible() and "70" in locked.inner_text() and "(locked)" in locked.inner_text()
    # The form starts empty: the second answer is given, not carried over.
    assert not page.locator("#decision-biopsy").is_checked()
    assert page.get_by_label(PERCENT_LABEL).input_value() == ""
    # The unaided answer cannot be changed: no Back, and the back page does not exist.
    assert not page.get_by_role("button", name="Back").is_visible()
    assert accessibility_violations(page) == []
    _answer(page, "reassure", "30")

    # Case 2 alone again: the panel is gone.
    case_heading(page, 2, 2).wait_for()
    page.get_by_text("First answer: on your own").wait_for()
    assert not page.locator("#ai-panel").is_visible()
    assert not page.locator("#ai-unaided-answer").is_visible()
    second_case = shown_case_id(page)
    assert second_case != first_case
    _answer(page, "reassure", "20")
    page.get_by_text("Second answer: the same case").wait_for()
    assert page.locator("#ai-probability").inner_text() == f"{round(cnn[second_case] * 100)}%"
    _answer(page, "biopsy", "55")
    page.wait_for_url(f"**/reading/studies/{study.pk}/finished/")

    stored = Decision.objects.filter(enrolment=enrolment).order_by("submitted_at")
    assert [(str(d.case.public_id), d.phase, d.decision, d.confidence) for d in stored] == [
        (first_case, "unaided", "biopsy", 70),
        (first_case, "aided", "reassure", 30),
        (second_case, "unaided", "reassure", 20),
        (second_case, "aided", "biopsy", 55),
    ]
    response = page.request.get(f"/reading/studies/{study.pk}/back/")
    assert response.status == 404
    page.problems.clear()  # the 404 just asked for is expected


def test_a_crossover_reader_waits_out_the_washout_before_the_second_session(page, reader_a):
    study, _ = _open_aided_study(2, ai_assistance="crossover", washout_days=14)
    enrolment = enrol(study, reader_a)

    log_in(page, "reader_a")
    page.goto(f"/reading/studies/{study.pk}/")
    case_heading(page, 1, 2).wait_for()
    assert page.get_by_text("Session 1 of 2").is_visible()
    first_order = [shown_case_id(page)]
    _answer(page, "biopsy", "80")
    case_heading(page, 2, 2).wait_for()
    first_order.append(shown_case_id(page))
    _answer(page, "biopsy", "60")
    # The first session is over; the second opens 14 days after its last answer.
    page.get_by_role("heading", name="Your first session is complete").wait_for()
    assert "14 days after your last answer" in page.locator("#session-two-opens").inner_text()
    page.goto(f"/reading/studies/{study.pk}/")
    page.get_by_role("heading", name="Your first session is complete").wait_for()
    page.goto("/reading/")
    assert page.get_by_text("Your second session opens on").is_visible()

    # Time travel: the first session ended 15 days ago.
    Decision.objects.filter(enrolment=enrolment).update(
        submitted_at=timezone.now() - timedelta(days=15)
    )
    first_phase = Decision.objects.filter(enrolment=enrolment).first().phase
    second_phase = "unaided" if first_phase == "aided" else "aided"
    page.goto(f"/reading/studies/{study.pk}/")
    second_order = []
    for number in (1, 2):
        case_heading(page, number, 2).wait_for()
        page.get_by_text("Session 2 of 2").wait_for()
        assert page.locator("#ai-panel").is_visible() == (second_phase == "aided")
        second_order.append(shown_case_id(page))
        _answer(page, "reassure", "40")
    page.wait_for_url(f"**/reading/studies/{study.pk}/finished/")
    assert sorted(second_order) == sorted(first_order)
    phases = Decision.objects.filter(enrolment=enrolment).values_list("phase", flat=True)
    assert sorted(phases) == ["aided", "aided", "unaided", "unaided"]


def test_the_aided_step_shows_the_cnns_grad_cam_map_once_a_worker_has_drawn_it(page, reader_a):
    study, _ = _open_aided_study(2, ai_assistance="sequential", ai_show_saliency=True)
    enrol(study, reader_a)
    page.add_init_script(path=str(AXE))
    log_in(page, "reader_a")
    page.goto(f"/reading/studies/{study.pk}/")
    case_heading(page, 1, 2).wait_for()
    assert not page.locator("#ai-saliency-figure").is_visible()
    case = Case.objects.get(public_id=shown_case_id(page))
    saliency = SaliencyMap.objects.get(case=case, target=TARGET_TASK)
    _answer(page, "biopsy", "70")

    # The aided step asks for the map; no worker has drawn it yet, so the panel says so.
    page.get_by_text("Second answer: the same case").wait_for()
    page.locator("#ai-saliency-pending").wait_for()
    assert not page.locator("#ai-saliency-figure").is_visible()
    saliency_map_compute(saliency_map_id=saliency.pk)
    figure = page.locator("#ai-saliency-figure")
    figure.wait_for(timeout=15_000)
    assert not page.locator("#ai-saliency-pending").is_visible()
    assert "evidence for malignant" in figure.inner_text()
    assert page.locator("#ai-saliency").evaluate("img => img.naturalWidth") > 0

    # A reload draws the same step from the server's page, and the map with it.
    page.reload()
    page.locator("#ai-saliency-figure").wait_for(timeout=15_000)
    assert page.locator("#ai-saliency").evaluate("img => img.naturalWidth") > 0
    assert accessibility_violations(page) == []
