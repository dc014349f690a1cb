"""Pages for readers: their studies, the grading page, the finish page, and case images.

Every page needs the Reader role; a study the reader is not enrolled in, or that is not open,
answers 404, exactly like one that does not exist. The grading page works as a plain form
(submit, redirect, next case) and grading.js upgrades it to submit through the API.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from readerstudy.accounts.permissions import role_required
from readerstudy.accounts.roles import Role
from readerstudy.reading import selectors, services
from readerstudy.reading.phases import study_phase_count
from readerstudy.reading.presenters import (
    confirmation_sentence,
    feedback_lines,
    feedback_summary,
    question_fields,
    serving_payload,
    study_settings,
)
from readerstudy.scoring.models import InsightStatus
from readerstudy.studies.design import ANSWER_FIELDS, study_design
from readerstudy.studies.media import case_image_response, image_view
from readerstudy.studies.selectors import reader_consent_missing, reader_profile_missing

# As everywhere: a user without the role learns nothing, not even that the page exists.
reader_required = role_required(Role.READER)


@reader_required
@require_GET
def reader_home(request: HttpRequest) -> HttpResponse:
    studies = selectors.reader_study_list(user=request.user)
    return render(request, "reading/home.html", {"reader_studies": studies})


def _grading_page(request: HttpRequest, serving: services.CaseServing, study: Any) -> HttpResponse:
    payload = serving_payload(serving, study)
    answer = payload["case"]["current_answer"] if payload["case"] else None
    questions = question_fields(study_design(study), answer)
    scales = [question.confidence for question in questions if question.confidence]
    context = {
        "study": study,
        "settings": study_settings(study),
        "serving": serving,
        "case": payload["case"],
        "payload": payload,
        "questions": questions,
        # Digits type into a confidence: the shortcuts name the first scale's range.
        "digit_scale": scales[0] if scales else None,
        "scale_count": len(scales),
    }
    return render(request, "reading/grade.html", context)


def _not_gradable(request: HttpRequest, study_id: int) -> HttpResponse:
    """A reader's old link to a study closed since: the closed page says so (not a 404)."""
    if selectors.finished_enrolment_get(user=request.user, study_id=study_id) is None:
        raise Http404("No such study to grade.")
    if request.method == "POST":
        messages.error(request, "The study was closed before this answer arrived; it was not kept.")
    return redirect("reading:finished", study_id=study_id)


@never_cache
@reader_required
@require_http_methods(["GET", "POST"])
def grade(request: HttpRequest, study_id: int) -> HttpResponse:
    """The next unanswered case (GET) or the answer to a served case (POST, then redirect)."""
    enrolment = selectors.grading_enrolment_get(user=request.user, study_id=study_id)
    if enrolment is None:
        return _not_gradable(request, study_id)
    if reader_consent_missing(enrolment):
        return redirect("reading:consent", study_id=study_id)
    if reader_profile_missing(enrolment):
        return redirect("reading:profile", study_id=study_id)
    if request.method == "POST":
        try:
            outcome = services.decision_submit(
                enrolment=enrolment,
                token=request.POST.get("token", ""),
                **{name: request.POST.get(name) for name in ANSWER_FIELDS},
                active_ms=request.POST.get("active_ms") or None,
            )
        except services.ServedCaseNotFound:
            raise Http404("No such case.") from None
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            if not outcome.created:
                messages.info(request, "That case had already been answered; the answer is kept.")
        return redirect("reading:grade", study_id=study_id)
    serving = services.next_case_serve(enrolment=enrolment)
    if serving.finished:
        return redirect("reading:finished", study_id=study_id)
    if serving.waiting:
        return render(
            request,
            "reading/waiting.html",
            {"study": enrolment.study, "serving": serving, "home_url": reverse("reading:home")},
        )
    return _grading_page(request, serving, enrolment.study)


@never_cache
@reader_required
@require_GET
def grade_back(request: HttpRequest, study_id: int) -> HttpResponse:
    """An answered case shown again so the reader can change the answer (if the study allows)."""
    enrolment = selectors.grading_enrolment_get(user=request.user, study_id=study_id)
    if enrolment is None:
        return _not_gradable(request, study_id)
    if not enrolment.study.allow_answer_changes:
        raise Http404("No such study to grade.")
    try:
        before = uuid.UUID(request.GET["before"]) if request.GET.get("before") else None
    except ValueError:
        raise Http404("No such case.") from None
    serving = services.previous_case_serve(enrolment=enrolment, before=before)
    if serving is None:
        return redirect("reading:grade", study_id=study_id)
    return _grading_page(request, serving, enrolment.study)


@never_cache
@reader_required
@require_GET
def finished(request: HttpRequest, study_id: int) -> HttpResponse:
    """Thanks, and (when the study enables it) feedback: only once every case is answered."""
    enrolment = selectors.finished_enrolment_get(user=request.user, study_id=study_id)
    if enrolment is None:
        raise Http404("No such study.")
    study = enrolment.study
    done, total = selectors.reader_progress_get(enrolment)
    is_finished = total > 0 and done >= total
    if not is_finished and study.status == study.Status.OPEN:
        return redirect("reading:grade", study_id=study_id)
    rows = selectors.feedback_row_list(enrolment) if is_finished and study.show_feedback else []
    design = study_design(study)
    feedback = feedback_lines(design, rows)
    return render(
        request,
        "reading/finished.html",
        {
            "study": study,
            "done": done,
            "total": total,
            # An AI-assisted study asks two answers of each case.
            "cases_total": total // study_phase_count(study),
            "is_finished": is_finished,
            "feedback": feedback,
            "aided_feedback": any(line.aided_answer_text for line in feedback),
            "summary": feedback_summary(design, rows) if rows else [],
            "confirmations": (
                confirmation_sentence(selectors.confirmation_count_list(study)) if rows else ""
            ),
            "show_cnn": any(row.cnn_probability is not None for row in rows),
            "show_cnn_class": any(line.cnn_class for line in feedback),
            "asks_management": design.management is not None,
            "several_questions": len(design.questions) > 1,
            "home_url": reverse("reading:home"),
        },
    )


def _image(request: HttpRequest, public_id: uuid.UUID, variant: str) -> HttpResponse:
    case = selectors.reader_image_case_get(user=request.user, public_id=public_id, variant=variant)
    if case is None:
        raise Http404("No such image.")
    return case_image_response(case, variant)  # type: ignore[arg-type]


@image_view
@reader_required
@require_GET
def case_image(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    return _image(request, public_id, "display")


@image_view
@reader_required
@require_GET
def case_image_full(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    return _image(request, public_id, "full")


@image_view
@reader_required
@require_GET
def case_image_thumbnail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    return _image(request, public_id, "thumbnail")


@image_view
@reader_required
@never_cache
@require_GET
def case_saliency(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The CNN's Grad-CAM map of a case, for a reader who has reached its aided phase in a study
    that shows maps: the PNG once a worker has made it, 202 while it is being made."""
    saliency = selectors.reader_saliency_get(user=request.user, public_id=public_id)
    if saliency is None or saliency.status == InsightStatus.FAILED:
        raise Http404("No such image.")
    if saliency.status != InsightStatus.READY:
        return JsonResponse({"status": saliency.status}, status=202)
    response = FileResponse(saliency.overlay.open("rb"), content_type="image/png")
    response.headers.pop("Content-Disposition", None)
    return response
