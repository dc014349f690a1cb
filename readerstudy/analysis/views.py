"""Analyst pages: the CNN's ROC curve with every reader on it, tables, and exports."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from readerstudy.accounts.permissions import role_required
from readerstudy.accounts.roles import Role
from readerstudy.analysis import exports
from readerstudy.analysis.comparison import (
    AlgorithmComparison,
    add_second_curve,
    algorithm_comparison,
)
from readerstudy.analysis.csp import plotly_page
from readerstudy.analysis.selectors import (
    analysis_context_get,
    study_fingerprint,
    subgroup_rows_get,
)
from readerstudy.scoring.models import ModelVersion
from readerstudy.scoring.selectors import (
    insight_unavailable_reason,
    model_card_get,
    study_algorithm_get,
    study_algorithm_list,
    study_scoring_progress_get,
)
from readerstudy.studies.access import studies_for_staff, study_for_staff_or_404
from readerstudy.studies.models import Study
from readerstudy.studies.subgroups import (
    EVERYONE,
    SUBGROUP_LABELS,
    SUBGROUP_PARAMETERS,
    ReaderSubgroup,
)


def query_flag(request: HttpRequest, name: str) -> bool:
    """A page's on/off choice in the query string (``?partial=1``, ``?identities=true``)."""
    return request.GET.get(name) in ("1", "true", "on")


def subgroup_or_400(request: HttpRequest) -> ReaderSubgroup | HttpResponse:
    """``?position=``, ``?experience=``: the subgroup of readers to analyse, or a 400 page
    naming each parameter whose value is not one of its choices."""
    try:
        return ReaderSubgroup.from_query(request.GET)
    except ValidationError as error:
        problems = [f"{name}: {m}" for name, ms in error.message_dict.items() for m in ms]
        return render(request, "analysis/bad_query.html", {"problems": problems}, status=400)


def subgroup_context(subgroup: ReaderSubgroup) -> dict[str, object]:
    """What ``analysis/partials/_subgroup_fields.html`` reads: the chosen subgroup and the
    choices of each parameter."""
    return {
        "subgroup": subgroup,
        "subgroup_choices": {name: SUBGROUP_LABELS[name] for name in SUBGROUP_PARAMETERS},
    }


@role_required(Role.ANALYST, Role.COORDINATOR)
@require_GET
def study_list(request: HttpRequest) -> HttpResponse:
    # A draft without readers is still being assembled: nothing to analyse yet.
    studies = (
        studies_for_staff(request.user)
        .exclude(status=Study.Status.DRAFT, enrolments=None)
        .annotate(
            n_cases=Count("cases", distinct=True), n_readers=Count("enrolments", distinct=True)
        )
    )
    return render(request, "analysis/study_list.html", {"studies": studies})


def _tables_context(
    request: HttpRequest,
    study: Study,
    fingerprint: str | None = None,
    subgroup: ReaderSubgroup = EVERYONE,
) -> dict:
    """The page's context, from one analysis context (built once for the request)."""
    identities = query_flag(request, "identities")
    include_partial = query_flag(request, "partial")
    built = analysis_context_get(
        study, fingerprint=fingerprint, include_partial=include_partial, subgroup=subgroup
    )
    data, analysis = built.data, built.analysis
    algorithms = study_algorithm_list(study)
    comparison = _comparison(request, study, data.model_version, algorithms)
    context = {
        "study": study,
        "data": data,
        "analysis": None if analysis is None else analysis.to_dict(),
        "identities": identities,
        "include_partial": include_partial,
        **subgroup_context(subgroup),
        "subgroup_rows": [
            {**row.to_dict(), "query": row.query}
            for row in subgroup_rows_get(data, include_partial=include_partial)
        ],
        "export_query": export_query(identities, include_partial, subgroup),
        "scoring": study_scoring_progress_get(study),
        "fingerprint": built.fingerprint,
        "poll_url": reverse("analysis:study_data", args=[study.pk])
        + (f"?{request.GET.urlencode()}" if request.GET else ""),
        "algorithms": [model_card_get(model) for model in algorithms],
        "comparison": None if comparison is None else comparison.to_dict(),
        "insight_unavailable": data.model_version
        and insight_unavailable_reason(data.model_version),
    }
    if analysis is not None:
        context["reader_rows"] = exports.reader_rows(data, analysis, identities=identities)
        context["mrmc_simulated"] = data.n_simulated(analysis.mrmc_readers)
        from readerstudy.analysis.figures import figure_json, roc_figure  # plotly, on demand

        figure = roc_figure(
            data, analysis, identities=identities, reader_curves=query_flag(request, "curves")
        )
        if comparison is not None:
            add_second_curve(figure, comparison)
        context["figure"] = figure_json(figure)
    return context


def export_query(
    identities: bool, include_partial: bool, subgroup: ReaderSubgroup = EVERYONE
) -> str:
    """The page's choices as the query string of its export links ("" or "?...")."""
    flags = [name for name, on in (("identities", identities), ("partial", include_partial)) if on]
    parts = [f"{name}=1" for name in flags] + ([subgroup.query] if subgroup.query else [])
    return "?" + "&".join(parts) if parts else ""


def _comparison(
    request: HttpRequest, study: Study, first: ModelVersion | None, algorithms: list[ModelVersion]
) -> AlgorithmComparison | None:
    """``?compare=<model id>``: the study's algorithm against another that scored it."""
    chosen = request.GET.get("compare", "")
    second = next((m for m in algorithms if str(m.pk) == chosen), None)
    if first is None or second is None or second == first:
        return None
    return algorithm_comparison(study, first, second)


@plotly_page
@login_required
@require_GET
def study_analysis_page(request: HttpRequest, study_id: int) -> HttpResponse:
    study = study_for_staff_or_404(request.user, study_id)
    subgroup = subgroup_or_400(request)
    if isinstance(subgroup, HttpResponse):
        return subgroup
    return render(
        request, "analysis/study.html", _tables_context(request, study, subgroup=subgroup)
    )


@login_required
@never_cache
@require_GET
def study_analysis_data(request: HttpRequest, study_id: int) -> HttpResponse:
    """What the page polls: a fingerprint, and when it changed, the new figure and tables."""
    study = study_for_staff_or_404(request.user, study_id)
    try:
        subgroup = ReaderSubgroup.from_query(request.GET)
    except ValidationError as error:
        return JsonResponse({"errors": error.message_dict}, status=400)
    fingerprint = study_fingerprint(study, study_algorithm_get(study), subgroup)
    if request.GET.get("since") == fingerprint:
        return JsonResponse({"fingerprint": fingerprint, "changed": False})
    context = _tables_context(request, study, fingerprint, subgroup)
    return JsonResponse(
        {
            "fingerprint": context["fingerprint"],
            "changed": True,
            "figure": context.get("figure"),
            "tables_html": render_to_string("analysis/_tables.html", context, request=request),
        }
    )


@login_required
@require_GET
def study_export(request: HttpRequest, study_id: int, fmt: str) -> HttpResponse:
    """Downloads: csv (every decision), json, imrmc, ratings (long CSV), html, png, svg, and
    diagnosis (the diagnosis analysis as JSON, for studies that ask a diagnosis).

    Readers appear by pseudonym unless ``identities=1``; ``partial=1`` counts the readers who
    have not graded every case in the average reader and the operating-point comparisons;
    ``position=`` and ``experience=`` restrict the export to a subgroup of readers.
    """
    if fmt not in exports.EXPORT_FORMATS:
        raise Http404("unknown export format")
    study = study_for_staff_or_404(request.user, study_id)
    subgroup = subgroup_or_400(request)
    if isinstance(subgroup, HttpResponse):
        return subgroup
    return export_response(
        study,
        fmt,
        identities=query_flag(request, "identities"),
        include_partial=query_flag(request, "partial"),
        subgroup=subgroup,
    )


def export_response(
    study: Study,
    fmt: str,
    *,
    identities: bool,
    include_partial: bool = False,
    subgroup: ReaderSubgroup = EVERYONE,
) -> HttpResponse:
    """One export as a download, for the page and the API alike."""
    content_type, suffix = exports.EXPORT_FORMATS[fmt]
    filename = f"{slugify(study.name) or 'study'}-{study.pk}-{suffix}"
    if fmt == "csv":
        response: HttpResponse = StreamingHttpResponse(
            exports.decisions_csv_lines(study, identities=identities, subgroup=subgroup),
            content_type=content_type,
        )
    else:
        try:
            body = exports.export_bytes(
                study,
                fmt,
                identities=identities,
                include_partial=include_partial,
                subgroup=subgroup,
            )
        except exports.ExportUnavailable as error:
            raise Http404(str(error)) from None
        response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
