"""The AI-assistance page of an AI-assisted study and its JSON API: unaided against aided
reading (``analysis.aided``). The same people see it as the study's ROC page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from readerstudy.accounts.permissions import IsCoordinatorOrAnalyst
from readerstudy.analysis.aided import aided_analysis_get
from readerstudy.analysis.api import AnalysisQuerySerializer
from readerstudy.analysis.csp import plotly_page
from readerstudy.analysis.design_reports import aided_sections_context
from readerstudy.analysis.views import export_query, query_flag, subgroup_context, subgroup_or_400
from readerstudy.studies.access import study_for_staff_or_404
from readerstudy.studies.models import Study

NOT_AIDED = (
    "This study is read unaided only, so there is nothing to compare: AI-assisted reading "
    "(sequential, or crossover with a washout) is chosen when the study is set up."
)


def _not_aided(study: Study) -> dict[str, Any]:
    """What the page and the API answer for a study read unaided only."""
    return {
        "study": {"id": study.pk, "name": study.name, "ai_assistance": study.ai_assistance},
        "unavailable": NOT_AIDED,
    }


@plotly_page
@login_required
@require_GET
def aided_page(request: HttpRequest, study_id: int) -> HttpResponse:
    study = study_for_staff_or_404(request.user, study_id)
    subgroup = subgroup_or_400(request)
    if isinstance(subgroup, HttpResponse):
        return subgroup
    identities, include_partial = query_flag(request, "identities"), query_flag(request, "partial")
    found = aided_analysis_get(
        study, identities=identities, include_partial=include_partial, subgroup=subgroup
    )
    if found is None:
        return render(request, "analysis/aided.html", {"study": study, "not_aided": NOT_AIDED})
    data, result = found
    # plotly loads only where a figure is drawn, never with the web pages' own imports.
    from readerstudy.analysis.aided_figures import aided_roc_figure, experience_figure
    from readerstudy.analysis.figures import figure_json

    roc = aided_roc_figure(result)
    experience = experience_figure(result)
    figures = {
        "roc": None if roc is None else figure_json(roc),
        "experience": None if experience is None else figure_json(experience),
    }
    return render(
        request,
        "analysis/aided.html",
        {
            "study": study,
            **aided_sections_context(len(data.readers), result),
            "figures": figures,
            "identities": identities,
            "include_partial": include_partial,
            **subgroup_context(subgroup),
            "export_query": export_query(identities, include_partial, subgroup),
        },
    )


class StudyAidedAnalysisAPI(APIView):
    """An AI-assisted study's unaided-against-aided analysis: Obuchowski-Rockette-Hillis MRMC
    on AUC, sensitivity and specificity with per-reader changes, the switching tables against
    the AI as shown (Maron 2020) overall and on faulty-AI cases (Tschandl 2020), the
    diagnosis accuracy and mean recall, and the benefit by experience band; ``position`` and
    ``experience`` restrict it to a subgroup of readers. A study read unaided only answers
    its id and name with ``unavailable`` saying why."""

    permission_classes = [IsCoordinatorOrAnalyst]

    @extend_schema(
        operation_id="analysis_study_aided",
        parameters=[AnalysisQuerySerializer],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, study_id: int) -> Response:
        study = study_for_staff_or_404(request.user, study_id)
        query = AnalysisQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = aided_analysis_get(
            study,
            identities=query.validated_data["identities"],
            include_partial=query.validated_data["partial"],
            subgroup=query.subgroup(),
        )
        return Response(_not_aided(study) if found is None else found[1])
