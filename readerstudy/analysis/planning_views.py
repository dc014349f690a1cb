"""The planning page: power and sample size of the next study from a pilot (coordinators and
analysts), and its exports."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from readerstudy.accounts.permissions import role_required
from readerstudy.accounts.roles import Role
from readerstudy.analysis.csp import plotly_page
from readerstudy.analysis.forms import PlanningForm
from readerstudy.analysis.selectors import study_pilot_get
from readerstudy.stats.formats import RatingsFormatError
from readerstudy.stats.planning import (
    COMPONENT_LABELS,
    MAX_CASES,
    PlanRequest,
    pilot_from_file,
    power_curve_figure,
    power_rows,
    study_plan,
    table_csv,
)
from readerstudy.stats.power import Pilot, PlanningError
from readerstudy.stats.roc import RocInputError
from readerstudy.studies.access import studies_for_staff

PLAN_SALT = "readerstudy.stats.planning"
PLAN_MAX_AGE = 24 * 3600
EXPORTS = {
    "csv": ("text/csv; charset=utf-8", "power.csv"),
    "json": ("application/json", "plan.json"),
}


def _uploaded_pilot(upload: Any, algorithm: str | None) -> tuple[Pilot, str]:
    """The pilot of an uploaded ratings file; errors name the file as the user knows it."""
    name = Path(upload.name).name or "ratings"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        with open(path, "wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
        try:
            return pilot_from_file(path, algorithm=algorithm)
        except (RatingsFormatError, RocInputError) as error:
            raise PlanningError(str(error).replace(str(path), name)) from None


@plotly_page
@role_required(Role.ANALYST, Role.COORDINATOR)
@require_http_methods(["GET", "POST"])
def planning_page(request: HttpRequest) -> HttpResponse:
    studies = studies_for_staff(request.user).order_by("name")
    context: dict[str, Any] = {}
    if request.method == "POST":
        form = PlanningForm(request.POST, request.FILES, studies=studies)
        if form.is_valid():
            data = form.cleaned_data
            plan_request = PlanRequest(
                readers=tuple(range(data["readers_min"], data["readers_max"] + 1)),
                cases=data["cases"],
                effect=data["effect"],
                alpha=data["alpha"],
                power=data["power"],
                analysis=data["analysis"],
            )
            try:
                if data["study"] is not None:
                    pilot, comparison = study_pilot_get(data["study"])
                    source = f"study {data['study'].pk} ({data['study'].name})"
                else:
                    pilot, comparison = _uploaded_pilot(
                        data["ratings"], data["algorithm"].strip() or None
                    )
                    source = Path(data["ratings"].name).name
                plan = study_plan(pilot, plan_request, source=source, comparison=comparison)
            except PlanningError as error:
                form.add_error(None, str(error))
            else:
                counts, rows = power_rows(plan)
                context.update(
                    plan=plan,
                    figure=power_curve_figure(plan),
                    case_counts=counts,
                    cases_needed=[(int(j), k) for j, k in plan["cases_needed"].items()],
                    components=[
                        (COMPONENT_LABELS.get(name, name), value)
                        for name, value in plan["variance_components"].items()
                    ],
                    power_rows=rows,
                    token=signing.dumps(plan, salt=PLAN_SALT, compress=True),
                    max_cases=MAX_CASES,
                )
    else:
        form = PlanningForm(studies=studies, initial={"study": request.GET.get("study")})
    context["form"] = form
    return render(request, "analysis/planning.html", context)


@role_required(Role.ANALYST, Role.COORDINATOR)
@require_POST
def planning_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The plan the page showed, as CSV (the power table) or JSON (everything, as
    ``plan_study --json``); the page hands it back signed, so nothing is stored."""
    if fmt not in EXPORTS:
        raise Http404("unknown export format")
    try:
        plan = signing.loads(request.POST.get("plan", ""), salt=PLAN_SALT, max_age=PLAN_MAX_AGE)
    except signing.BadSignature:
        return HttpResponseBadRequest("the plan has expired or was changed; plan again")
    content_type, filename = EXPORTS[fmt]
    body = table_csv(plan) if fmt == "csv" else json.dumps(plan, indent=2, allow_nan=False) + "\n"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
