"""The diagnosis analysis page: readers and the CNN answering one class per case (Esteva et al.
2017; Tschandl et al. 2019), for studies whose design asks a diagnosis."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from readerstudy.analysis.csp import plotly_page
from readerstudy.analysis.diagnosis import DiagnosisData, diagnosis_analysis_get
from readerstudy.analysis.views import export_query, query_flag, subgroup_context, subgroup_or_400
from readerstudy.studies.access import study_for_staff_or_404
from readerstudy.studies.models import Study
from readerstudy.studies.selectors import subgroup_enrolment_ids
from readerstudy.studies.subgroups import EVERYONE, ReaderSubgroup


def reader_subgroup(study: Study, subgroup: ReaderSubgroup) -> Collection[int] | None:
    """The enrolments the page is restricted to (None: every reader): the readers of
    ``subgroup`` (``?position=``, ``?experience=``, by their profile)."""
    return subgroup_enrolment_ids(study, subgroup)


def reader_rows(result: dict[str, Any], data: DiagnosisData) -> list[dict[str, Any]]:
    """The Esteva-style table's reader rows: n, accuracy with its Wilson CI, mean recall,
    per-class sensitivity in the scheme's order, and the exact McNemar test against the CNN."""
    versus = result.get("algorithm_vs_readers") or {}
    partial = set(result["partial_readers"])
    simulated = set(result["simulated_readers"])
    rows = []
    for name, block in result["readers"].items():
        rows.append(
            {
                "name": name,
                "simulated": name in simulated,
                "partial": name in partial,
                "n": block["n"],
                "accuracy": block["accuracy"],
                "accuracy_ci": block["accuracy_ci"],
                "mean_recall": block["mean_recall"],
                "sensitivity": [
                    block["sensitivity"][label]["estimate"] for label in result["classes"]
                ],
                "mcnemar_p": (versus.get("mcnemar_p") or {}).get(name),
                "mcnemar": (versus.get("mcnemar") or {}).get(name),
            }
        )
    return rows


def diagnosis_context(
    request: HttpRequest, study: Study, subgroup: ReaderSubgroup = EVERYONE
) -> dict[str, Any]:
    identities = query_flag(request, "identities")
    include_partial = query_flag(request, "partial")
    found = diagnosis_analysis_get(
        study,
        identities=identities,
        include_partial=include_partial,
        enrolment_ids=reader_subgroup(study, subgroup),
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
    classes = result["classes"]
    chosen = request.GET.get("reader", "")
    if chosen not in result["readers"]:
        chosen = next(iter(result["readers"]), "")
    context.update(
        rows=reader_rows(result, data),
        average=result["average_reader"],
        chosen_reader=chosen,
        class_headers=[(c.code, c.label) for c in data.scheme.classes],
        average_sensitivity=[result["average_reader"]["sensitivity"][c] for c in classes],
        cnn_sensitivity=(
            [result["algorithm"]["sensitivity"][c]["estimate"] for c in classes]
            if "algorithm" in result
            else None
        ),
    )
    # plotly loads only where a figure is drawn, never with the web pages' own imports.
    from readerstudy.analysis.diagnosis_figures import accuracy_figure, confusion_figure
    from readerstudy.analysis.figures import figure_json

    figures = {
        "accuracy": accuracy_figure(result, simulated=set(result["simulated_readers"])),
        "pooled": confusion_figure(
            result["pooled_confusion"],
            classes,
            title=f"Readers pooled ({result['average_reader']['n_readers']} readers)",
        ),
    }
    if "algorithm" in result:
        figures["cnn"] = confusion_figure(
            result["algorithm"]["confusion"], classes, title=result["algorithm"]["name"]
        )
    if chosen:
        figures["reader"] = confusion_figure(
            result["readers"][chosen]["confusion"], classes, title=f"Reader {chosen}"
        )
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
