"""Pages and data for the views inside the CNN (analysts and the study's coordinators)."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from readerstudy.analysis.insight import (
    GALLERY_FILTERS,
    TARGET_TOP,
    error_gallery,
    operating_threshold,
    saliency_estimate,
    tsne_map_request,
    tsne_points,
)
from readerstudy.analysis.models import InsightStatus
from readerstudy.analysis.selectors import study_analysis_get
from readerstudy.reading.selectors import decision_final_list
from readerstudy.scoring.saliency import saliency_map_request
from readerstudy.scoring.selectors import (
    insight_unavailable_reason,
    study_algorithm_get,
    study_cnn_probabilities,
)
from readerstudy.studies.access import study_for_staff_or_404
from readerstudy.studies.design import study_design
from readerstudy.studies.media import case_image_response, image_view
from readerstudy.studies.models import Case

VARIANTS = ("thumbnail", "display", "full")


def _case_for_staff(request: HttpRequest, public_id: uuid.UUID) -> Case:
    case = Case.objects.filter(public_id=public_id).select_related("study").first()
    if case is None:
        raise Http404("no such case")
    study_for_staff_or_404(request.user, case.study_id)
    return case


@image_view
@require_GET
def case_image(request: HttpRequest, public_id: uuid.UUID, variant: str) -> HttpResponse:
    if variant not in VARIANTS:
        raise Http404("no such image")
    return case_image_response(_case_for_staff(request, public_id), variant)  # type: ignore[arg-type]


def _algorithm_or_404(study):
    model_version = study_algorithm_get(study)
    if model_version is None:
        raise Http404("no model is active for this task")
    return model_version


def _model_or_404(study):
    """The study's algorithm when it is a network whose insides can be shown."""
    model_version = _algorithm_or_404(study)
    if not model_version.has_embeddings:
        raise Http404(insight_unavailable_reason(model_version))
    return model_version


@login_required
@never_cache
@require_GET
def tsne_data(request: HttpRequest, study_id: int) -> JsonResponse:
    """The t-SNE map's points (case, position, truth, diagnosis, CNN score, thumbnail), or
    its status while a worker computes it."""
    study = study_for_staff_or_404(request.user, study_id)
    model_version = _model_or_404(study)
    tsne = tsne_map_request(study, model_version)
    if tsne.status != InsightStatus.READY:
        return JsonResponse({"status": tsne.status, "error": tsne.error, "points": []})
    points = [
        {
            **point,
            "thumbnail": reverse("analysis:case_image", args=[point["case"], "thumbnail"]),
            "url": reverse("analysis:case", args=[point["case"]]),
        }
        for point in tsne_points(tsne)
    ]
    return JsonResponse(
        {
            "status": tsne.status,
            "seconds": tsne.seconds,
            "model": model_version.name,
            "points": points,
        }
    )


@login_required
@require_GET
def case_page(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """One case for analysts: the image, its truth and clinical data, the CNN's score and
    saliency, and every reader's last answer (by pseudonym)."""
    case = _case_for_staff(request, public_id)
    model_version = study_algorithm_get(case.study)
    score = (
        study_cnn_probabilities(case.study, model_version, case_ids=[case.pk]).get(case.pk)
        if model_version is not None
        else None
    )
    design = study_design(case.study)
    answers = list(decision_final_list(case.study).filter(case_id=case.pk))
    for row in answers:
        decision = None if row["biopsy"] is None else ("biopsy" if row["biopsy"] else "reassure")
        row["text"] = design.answer_text({**row, "decision": decision})
    true_class = design.scheme.class_of(case.diagnosis) if design.scheme else None
    return render(
        request,
        "analysis/case.html",
        {
            "study": case.study,
            "case": case,
            "model_version": model_version,
            "score": score,
            "answers": answers,
            # What the readers said, by the questions the study asks.
            "biopsy_votes": (
                sum(bool(row["biopsy"]) for row in answers) if design.management else None
            ),
            "true_class": true_class,
            "class_votes": sum(row["diagnosis_class"] == true_class for row in answers),
        },
    )


@image_view
@never_cache
@require_GET
def saliency(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The Grad-CAM overlay (PNG) once ready; 202 with the status while a worker computes it."""
    case = _case_for_staff(request, public_id)
    model_version = _model_or_404(case.study)
    target = request.GET.get("target") or TARGET_TOP
    if target != TARGET_TOP and target not in model_version.class_names:
        raise Http404("no such class")
    saliency_map = saliency_map_request(case, model_version, target)
    if saliency_map.status == InsightStatus.READY:
        response = FileResponse(saliency_map.overlay.open("rb"), content_type="image/png")
        response.headers.pop("Content-Disposition", None)
        return response
    status = 500 if saliency_map.status == InsightStatus.FAILED else 202
    return JsonResponse({"status": saliency_map.status, "error": saliency_map.error}, status=status)


@login_required
@require_GET
def errors_page(request: HttpRequest, study_id: int) -> HttpResponse:
    """The error gallery at the study's operating point: the CNN's threshold at the readers'
    mean sensitivity (Brinker 2019) when readers have graded, else 0.5."""
    study = study_for_staff_or_404(request.user, study_id)
    model_version = _algorithm_or_404(study)
    _, analysis = study_analysis_get(study, model_version)
    threshold, basis = operating_threshold(analysis)
    listed = error_gallery(study, model_version, threshold=threshold)
    show = request.GET.get("show", "all")
    if show not in {key for key, _, _ in GALLERY_FILTERS}:
        show = "all"
    filters = []
    for key, label, keep in GALLERY_FILTERS:
        shown = [row for row in listed if keep(row)]
        filters.append({"key": key, "label": label, "count": len(shown)})
        if key == show:
            rows = shown
    return render(
        request,
        "analysis/errors.html",
        {
            "study": study,
            "model_version": model_version,
            "rows": rows,
            "filters": filters,
            "show": show,
            "estimate": saliency_estimate(model_version, [row.case for row in rows]),
            "threshold": threshold,
            "basis": basis,
            "classes": model_version.class_names,
            "insight_unavailable": None
            if model_version.has_embeddings
            else insight_unavailable_reason(model_version),
        },
    )
