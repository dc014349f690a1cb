from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from readerstudy.core.access import study_for_staff
from readerstudy.core.views import safe_next_url
from readerstudy.scoring.selectors import active_model_for_task, study_scoring_progress
from readerstudy.scoring.services import scores_failed_retry, study_scoring_enqueue


@login_required
@never_cache
@require_GET
def study_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """Scored / total, failures and ETA, polled by the study page."""
    study = study_for_staff(request.user, pk)
    return JsonResponse(study_scoring_progress(study).to_dict())


@login_required
@require_POST
def study_score(request: HttpRequest, pk: int) -> HttpResponse:
    """The coordinator's "score now" button: send every unscored case to the workers."""
    study = study_for_staff(request.user, pk, change=True)
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
def study_retry_failed(request: HttpRequest, pk: int) -> HttpResponse:
    study = study_for_staff(request.user, pk, change=True)
    model_version = active_model_for_task(study.task)
    if model_version is not None:
        count = scores_failed_retry(study=study, model_version=model_version)
        messages.success(request, f"{count} failed cases get three more attempts.")
    return redirect(safe_next_url(request))
