"""The diagnosis analysis page: readers and the CNN answering one class per case (Esteva et al.
2017; Tschandl et al. 2019), for studies whose design asks a diagnosis."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from readerstudy.analysis.csp import plotly_page
from readerstudy.analysis.design_reports import diagnosis_figures, diagnosis_sections_context
from readerstudy.analysis.diagnosis import diagnosis_analysis_get
from readerstudy.analysis.views import export_query, query_flag, subgroup_context, subgroup_or_400
from readerstudy.studies.access import study_for_staff_or_404
from readerstudy.studies.models import Study
from readerstudy.studies.subgroups import EVERYONE, ReaderSubgroup


def diagnosis_context(
    request: HttpRequest, study: Study, subgroup: ReaderSubgroup = EVERYONE
) -> dict[str, Any]:
    identities = query_flag(request, "identities")
    include_partial = query_flag(request, "partial")
    found = diagnosis_analysis_get(
        study,
        identities=identities,
        include_partial=include_partial,
        subgroup=subgroup,
    )
    if found is None:
        raise Http404("this study asks no diagnosis")
    data, result = found
    context: dict[str, Any] = {
        "study": study,
        "data": data,
        "result": result,
        "identities": identities,
        "include_partial": include_partial,
        **subgroup_context(subgroup),
        "export_query": export_query(identities, include_partial, subgroup),
    }
    if result is None:
        return context
    chosen = request.GET.get("reader", "")
    if chosen not in result["readers"]:
        chosen = next(iter(result["readers"]), "")
    context.update(diagnosis_sections_context(data, result), chosen_reader=chosen)
    # plotly loads only where a figure is drawn, never with the web pages' own imports.
    from readerstudy.analysis.figures import figure_json

    figures = diagnosis_figures(result, chosen)
    context["figures"] = dict.fromkeys(figures, True)
    context["figure_scripts"] = [
        {"id": f"dx-figure-{name}", "json": figure_json(figure)} for name, figure in figures.items()
    ]
    return context


@plotly_page
@login_required
@require_GET
def diagnosis_page(request: HttpRequest, study_id: int) -> HttpResponse:
    study = study_for_staff_or_404(request.user, study_id)
    subgroup = subgroup_or_400(request)
    if isinstance(subgroup, HttpResponse):
        return subgroup
    return render(request, "analysis/diagnosis.html", diagnosis_context(request, study, subgroup))
