"""Pages of the scoring package (mounted at /scoring/): progress, "score now", the models
page (every model's card; coordinators register models there), the analyst's choice of a
study's algorithm, and imported scores."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from classifier.taxonomy import load_taxonomy
from readerstudy.accounts.permissions import role_required
from readerstudy.accounts.roles import Role, has_role
from readerstudy.core.forms import NoColon
from readerstudy.core.views import safe_next_url
from readerstudy.scoring.models import ANY_TASK
from readerstudy.scoring.registration import ModelRegistrationError, model_version_register_upload
from readerstudy.scoring.score_imports import ScoreImportError, scores_import_upload
from readerstudy.scoring.selectors import (
    model_card_list,
    model_version_active_get,
    model_version_get,
    study_algorithm_list,
    study_scoring_progress_get,
)
from readerstudy.scoring.services import (
    model_version_activate,
    scores_failed_retry,
    study_algorithm_choose,
    study_scoring_enqueue,
)
from readerstudy.studies.access import study_for_staff_or_404


@login_required
@never_cache
@require_GET
def study_progress(request: HttpRequest, study_id: int) -> JsonResponse:
    """Scored / total, failures and ETA, polled by the study page."""
    study = study_for_staff_or_404(request.user, study_id)
    return JsonResponse(study_scoring_progress_get(study).to_dict())


@login_required
@require_POST
def study_score(request: HttpRequest, study_id: int) -> HttpResponse:
    """The coordinator's "score now" button: send every unscored case to the workers."""
    study = study_for_staff_or_404(request.user, study_id, change=True)
    run = study_scoring_enqueue(study=study, reason="button", requested_by=request.user)
    if run is None:
        messages.error(request, f"No CNN model is active for the task {study.task}.")
    elif run.n_cases:
        messages.success(request, f"{run.n_cases} cases were sent to the CNN scoring workers.")
    else:
        messages.info(request, "Every case already has a score from the active model.")
    return redirect(safe_next_url(request))


@login_required
@require_POST
def study_retry_failed(request: HttpRequest, study_id: int) -> HttpResponse:
    study = study_for_staff_or_404(request.user, study_id, change=True)
    model_version = model_version_active_get(study.task)
    if model_version is not None:
        count = scores_failed_retry(study=study, model_version=model_version)
        messages.success(request, f"{count} failed cases get three more attempts.")
    return redirect(safe_next_url(request))


@login_required
@require_POST
def study_algorithm(request: HttpRequest, study_id: int) -> HttpResponse:
    """The analyst's choice of the algorithm a study's analysis uses."""
    study = study_for_staff_or_404(request.user, study_id)
    model_version = next(
        (m for m in study_algorithm_list(study) if str(m.pk) == request.POST.get("model")), None
    )
    if model_version is None:
        messages.error(request, "Choose an algorithm that scored this study.")
        return redirect(safe_next_url(request))
    try:
        study_algorithm_choose(study=study, model_version=model_version, chosen_by=request.user)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"The analysis now uses {model_version.name}.")
    return redirect(safe_next_url(request))


class ScoreImportForm(forms.Form):
    name = forms.CharField(max_length=128, help_text="The algorithm's name, e.g. the device")
    scores = forms.FileField(
        help_text="CSV: source_id, and probability or one column per taxonomy class"
    )


@login_required
@require_POST
def study_import_scores(request: HttpRequest, study_id: int) -> HttpResponse:
    """Import an algorithm's scores from a CSV (the study page's form)."""
    study = study_for_staff_or_404(request.user, study_id, change=True)
    form = ScoreImportForm(request.POST, request.FILES)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect(safe_next_url(request))
    try:
        model_version = scores_import_upload(
            study=study,
            upload=form.cleaned_data["scores"],
            name=form.cleaned_data["name"],
            created_by=request.user,  # type: ignore[arg-type]
        )
    except ScoreImportError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"Imported the scores of {model_version.name} for every case of the study."
        )
    return redirect(safe_next_url(request))


class ModelRegisterForm(NoColon, forms.Form):
    model = forms.FileField(
        label="Model file",
        help_text="A checkpoint (.pt), an ONNX file (.onnx), or a timm state_dict (.pth)",
        widget=forms.ClearableFileInput(attrs={"accept": ".pt,.onnx,.pth"}),
    )
    config = forms.FileField(
        label="JSON description",
        required=False,
        help_text="Required for ONNX and timm models: its classes, input size and "
        "normalisation (see docs/algorithms.md)",
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )
    arch = forms.CharField(
        label="timm architecture",
        required=False,
        max_length=64,
        help_text="For a timm state_dict: the timm model name, e.g. tf_efficientnet_lite0",
    )
    name = forms.CharField(
        required=False,
        max_length=128,
        help_text="Shown on its card and the analysis pages; empty: the file's name",
    )
    activate = forms.BooleanField(
        required=False,
        label="Activate for every task",
        help_text="Score the unscored cases of every open study with it (like --activate)",
    )


class ActivateForm(forms.Form):
    task = forms.ChoiceField(choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tasks = sorted(load_taxonomy().tasks)
        self.fields["task"].choices = [(ANY_TASK, "every task")] + [(t, t) for t in tasks]


@role_required(Role.COORDINATOR, Role.ANALYST)
@require_http_methods(["GET", "POST"])
def models_page(request: HttpRequest) -> HttpResponse:
    """Every registered model's card; coordinators register new models here."""
    coordinator = has_role(request.user, Role.COORDINATOR)
    form = ModelRegisterForm()
    if request.method == "POST":
        if not coordinator:
            raise Http404("only coordinators register models")
        form = ModelRegisterForm(request.POST, request.FILES)
        if form.is_valid():
            upload, config = form.cleaned_data["model"], form.cleaned_data["config"]
            try:
                model_version = model_version_register_upload(
                    upload=upload,
                    filename=upload.name,
                    created_by=request.user,  # type: ignore[arg-type]
                    name=form.cleaned_data["name"] or None,
                    config=config,
                    config_filename=config.name if config else "description.json",
                    arch=form.cleaned_data["arch"] or None,
                    activate_for=[ANY_TASK] if form.cleaned_data["activate"] else [],
                )
            except ModelRegistrationError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, f"Registered {model_version}.")
                return redirect("scoring:models")
    return render(
        request,
        "scoring/models.html",
        {
            "cards": model_card_list(),
            "form": form,
            "activate_form": ActivateForm(),
            "can_register": coordinator,
        },
    )


@role_required(Role.COORDINATOR)
@require_POST
def model_activate(request: HttpRequest, model_id: int) -> HttpResponse:
    """Make a model score the studies of a task (coordinators, from its card)."""
    model_version = model_version_get(model_id)
    if model_version is None:
        raise Http404("no such model")
    form = ActivateForm(request.POST)
    if not form.is_valid() or not model_version.runs_here:
        messages.error(request, "Choose a task; imported scores cannot score studies.")
        return redirect("scoring:models")
    task = form.cleaned_data["task"]
    try:
        runs = model_version_activate(
            model_version=model_version,
            tasks=[task],
            requested_by=request.user,  # type: ignore[arg-type]
        )
    except ValueError as error:
        messages.error(request, str(error))
        return redirect("scoring:models")
    sent = sum(run.n_cases for run in runs)
    messages.success(
        request,
        f"{model_version.name} now scores {'every task' if task == ANY_TASK else task}; "
        f"{sent} cases were sent to the workers.",
    )
    return redirect("scoring:models")
