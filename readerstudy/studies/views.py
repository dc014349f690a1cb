"""Coordinator pages: studies, their settings, image-set imports, cases and readers.

Every view answers 404 to anyone who is not a coordinator of the study (readers, analysts,
other coordinators) and sends anonymous users to the login page.
"""

from __future__ import annotations

from typing import TypeVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from readerstudy.accounts.permissions import role_required
from readerstudy.accounts.roles import Role
from readerstudy.studies import selectors
from readerstudy.studies.confounds import (
    confound_acknowledgement_latest,
    confound_warnings_unacknowledged,
    study_confound_audit,
)
from readerstudy.studies.forms import (
    EnrolForm,
    ImportUploadForm,
    ReaderProfileForm,
    StudyCreateForm,
    StudySettingsForm,
)
from readerstudy.studies.ingest.issues import ImportRejected
from readerstudy.studies.ingest.manifests import GENERIC_COLUMNS
from readerstudy.studies.media import case_image_response, image_view
from readerstudy.studies.models import ImportJob, Study
from readerstudy.studies.services import (
    import_job_create,
    import_undo,
    reader_profile_save,
    readers_enrol,
    study_create,
    study_delete,
    study_status_set,
    study_update,
)
from readerstudy.studies.services.lifecycle import ASSISTANCE_FIELDS, STATUS_STEPS

CASES_PER_PAGE = 60

Found = TypeVar("Found")


def _found(value: Found | None, what: str) -> Found:
    """What a selector found, or 404 "no such <what>" (selectors answer None)."""
    if value is None:
        raise Http404(f"no such {what}")
    return value


# Log in first; then a user without the coordinator role finds nothing here (404).
coordinator_required = role_required(Role.COORDINATOR)


@coordinator_required
@require_GET
def study_list(request: HttpRequest) -> HttpResponse:
    studies = selectors.study_list_for_coordinator(request.user)
    return render(request, "studies/study_list.html", {"studies": studies})


@coordinator_required
@require_http_methods(["GET", "POST"])
def study_create_view(request: HttpRequest) -> HttpResponse:
    form = StudyCreateForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            study = study_create(
                name=data["name"],
                task=data["resolved_task"],
                modality=data["modality"],
                created_by=request.user,
                question=data["question"],
                confidence_scale=data["confidence_scale"],
                allow_answer_changes=data["allow_answer_changes"],
                show_clinical_info=data["show_clinical_info"],
                show_feedback=data["show_feedback"],
                require_biopsy_proven=data["require_biopsy_proven"],
                design=data["design"],
                scheme=data.get("resolved_scheme"),
                diagnosis_question=data["diagnosis_question"],
                ask_diagnosis_confidence=data["ask_diagnosis_confidence"],
                **{name: data[name] for name in ASSISTANCE_FIELDS},
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Study “{study.name}” created. Now import its images.")
            return redirect("studies:detail", study_id=study.pk)
    return render(request, "studies/study_create.html", {"form": form})


# What a refused form on the study page did not do, said at the top of the page (the forms
# themselves lie far below it).
REFUSALS = {
    "upload_form": "The upload was refused",
    "settings_form": "The settings were not saved",
    "enrol_form": "No reader was enrolled",
}


def _refusal_banner(forms: dict[str, object]) -> dict[str, object] | None:
    """The title and messages of the one refused form, for the banner above the page."""
    for key, title in REFUSALS.items():
        form = forms.get(key)
        if form is None or not form.errors:  # type: ignore[attr-defined]
            continue
        messages_ = list(form.non_field_errors())  # type: ignore[attr-defined]
        for name, errors in form.errors.items():  # type: ignore[attr-defined]
            if name != "__all__":
                label = form.fields[name].label  # type: ignore[attr-defined]
                messages_ += [f"{label}: {error}" for error in errors]
        return {"title": title, "messages": messages_, "anchor": key}
    return None


def _detail_context(request: HttpRequest, study: Study, **extra: object) -> dict[str, object]:
    audit = study_confound_audit(study)
    cases = Paginator(selectors.case_list(study), CASES_PER_PAGE).get_page(request.GET.get("page"))
    jobs = list(selectors.import_job_list(study)[:20])
    refusal = _refusal_banner(extra)
    progress = selectors.reader_progress_list(study)
    return {
        "refusal": refusal,
        "study": study,
        "task": study.task_definition,
        "counts": selectors.study_counts_get(study),
        "truth_counts": selectors.study_truth_counts_get(study),
        "jobs": jobs,
        "running_job": next((j for j in jobs if not j.finished), None),
        "cases": cases,
        "reader_progress": progress,
        "readers_unfinished": selectors.reader_progress_unfinished(progress),
        "settings_form": extra.pop("settings_form", None)
        or StudySettingsForm(instance=study, locked=study.status != Study.Status.DRAFT),
        "upload_form": extra.pop("upload_form", None) or ImportUploadForm(),
        "enrol_form": extra.pop("enrol_form", None) or EnrolForm(),
        "generic_columns": GENERIC_COLUMNS,
        "next_status": next(iter(STATUS_STEPS.get(study.status, ())), None),
        "confounds": audit.as_dict(),
        "confound_unacknowledged": confound_warnings_unacknowledged(study, audit),
        "confound_ack": confound_acknowledgement_latest(study),
        **extra,
    }


@coordinator_required
@require_GET
def study_detail(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _found(selectors.study_get_for_coordinator(request.user, study_id), "study")
    return render(request, "studies/study_detail.html", _detail_context(request, study))


@coordinator_required
@require_POST
def study_settings(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _found(selectors.study_get_for_coordinator(request.user, study_id), "study")
    form = StudySettingsForm(
        request.POST, instance=Study.objects.get(pk=study.pk), locked=study.status != "draft"
    )
    if form.is_valid():
        try:
            study_update(study=study, **{k: form.cleaned_data[k] for k in form.changed_data})
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Settings saved.")
            return redirect("studies:detail", study_id=study.pk)
    context = _detail_context(request, study, settings_form=form)
    return render(request, "studies/study_detail.html", context, status=400)


@coordinator_required
@require_POST
def study_status(request: HttpRequest, study_id: int) -> HttpResponse:
    """Open, close or reopen; closing is asked once more on a page of its own."""
    study = _found(selectors.study_get_for_coordinator(request.user, study_id), "study")
    if request.POST.get("status") == Study.Status.CLOSED and not request.POST.get("confirmed"):
        unfinished = [
            f"{row.enrolment.pseudonym} ({row.enrolment.reader.get_username()}) has answered "
            f"{row.answered} of {row.total} cases."
            for row in selectors.reader_progress_list(study)
            if not row.finished
        ]
        return _confirm(
            request,
            study,
            heading=f"Close “{study.name}”?",
            lead="Readers can no longer grade once it is closed; their answers are kept, and "
            "you can reopen the study later.",
            items=unfinished,
            action=reverse("studies:status", args=[study.pk]),
            fields={"status": Study.Status.CLOSED},
            button="Close the study",
            cancel="Cancel, keep it open",
        )
    try:
        study = study_status_set(
            study=study,
            status=request.POST.get("status", ""),
            acknowledged_by=request.user if request.POST.get("acknowledge_confounds") else None,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"The study is now {study.get_status_display().lower()}.")
    return redirect("studies:detail", study_id=study.pk)


def _confirm(request: HttpRequest, study: Study, **confirm: object) -> HttpResponse:
    """Ask once more before something that readers or the study's data would miss."""
    return render(request, "studies/confirm.html", {"study": study, "confirm": confirm})


@coordinator_required
@require_POST
def study_delete_view(request: HttpRequest, study_id: int) -> HttpResponse:
    """Delete a draft study, after asking."""
    study = _found(selectors.study_get_for_coordinator(request.user, study_id), "study")
    if not request.POST.get("confirmed"):
        return _confirm(
            request,
            study,
            heading=f"Delete “{study.name}”?",
            lead="The study, its cases, their stored images, its imports and its enrolments "
            "are deleted for good.",
            items=[],
            action=reverse("studies:delete", args=[study.pk]),
            fields={},
            button="Delete the study",
            cancel="Cancel, keep it",
        )
    try:
        study_delete(study=study)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("studies:detail", study_id=study.pk)
    messages.success(request, f"Study “{study.name}” deleted.")
    return redirect("studies:list")


@coordinator_required
@require_POST
def import_undo_view(request: HttpRequest, study_id: int, job_id: int) -> HttpResponse:
    """Take back a draft study's import, after asking."""
    study = _found(selectors.study_get_for_coordinator(request.user, study_id), "study")
    job = _found(selectors.import_job_get(study, job_id), "import")
    if not request.POST.get("confirmed"):
        return _confirm(
            request,
            study,
            heading=f"Undo import {job.pk}?",
            lead=f"Its {job.cases_created} cases and their stored images are deleted; the "
            "import stays listed as undone.",
            items=[],
            action=reverse("studies:import_undo", args=[study.pk, job.pk]),
            fields={},
            button="Undo the import",
            cancel="Cancel, keep the cases",
        )
    try:
        job = import_undo(job=job)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        removed = job.report["undone"]["cases"]
        messages.success(request, f"Import {job.pk} undone: {removed} cases removed.")
    return redirect("studies:detail", study_id=study.pk)


@coordinator_required
@require_POST
def import_create(request: HttpRequest, study_id: int) -> HttpResponse:
    study = _found(selectors.study_get_for_coordinator(request.user, study_id), "study")
    form = ImportUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            job = import_job_create(
                study=study,
                created_by=request.user,
                source=str(ImportJob.Source.BROWSER),
                options=form.import_options(),
                zip_file=form.cleaned_data["archive"],
                manifest_file=form.cleaned_data["manifest"],
                image_files=form.cleaned_data["images"],
            )
        except ImportRejected as rejection:
            for issue in rejection.issues[:50]:
                form.add_error(None, str(issue))
        else:
            return redirect("studies:import_detail", study_id=study.pk, job_id=job.pk)
    context = _detail_context(request, study, upload_form=form)
    return render(request, "studies/study_detail.html", context, status=400)


@coordinator_required
@require_GET
def import_detail(request: HttpRequest, study_id: int, job_id: int) -> HttpResponse:
    study = _found(selectors.study_get_for_coordinator(request.user, study_id), "study")
    job = _found(selectors.import_job_get(study, job_id), "import")
    return render(request, "studies/import_detail.html", {"study": study, "job": job})


@never_cache
@coordinator_required
@require_GET
def import_status(request: HttpRequest, study_id: int, job_id: int) -> JsonResponse:
    study = _found(selectors.study_get_for_coordinator(request.user, study_id), "study")
    return JsonResponse(
        selectors.import_job_status_get(_found(selectors.import_job_get(study, job_id), "import"))
    )


@never_cache
@coordinator_required
@require_POST
def enrol(request: HttpRequest, study_id: int) -> HttpResponse:
    """Enrol readers; new accounts' passwords or links are shown on this response only."""
    study = _found(selectors.study_get_for_coordinator(request.user, study_id), "study")
    form = EnrolForm(request.POST)
    if form.is_valid():
        try:
            outcomes = readers_enrol(
                study=study,
                usernames=form.cleaned_data["usernames"],
                enrolled_by=request.user,
                create=form.cleaned_data["create"],
                credentials=form.cleaned_data["credentials"],
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error("usernames", message)
        else:
            # never_cache: the passwords on this page must not stay in any cache.
            return render(
                request,
                "studies/enrol_result.html",
                {
                    "study": study,
                    "outcomes": outcomes,
                    "link_base": request.build_absolute_uri("/")[:-1],
                },
            )
    context = _detail_context(request, study, enrol_form=form)
    return render(request, "studies/study_detail.html", context, status=400)


@coordinator_required
@require_http_methods(["GET", "POST"])
def reader_profile_edit(request: HttpRequest, study_id: int, enrolment_id: int) -> HttpResponse:
    """The coordinator's view of one reader's profile: fill it in or correct it."""
    study = _found(selectors.study_get_for_coordinator(request.user, study_id), "study")
    enrolment = _found(selectors.enrolment_get(study, enrolment_id), "reader")
    form = ReaderProfileForm(
        request.POST or None, initial=selectors.reader_profile_initial(enrolment)
    )
    if request.method == "POST" and form.is_valid():
        try:
            reader_profile_save(enrolment=enrolment, saved_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Profile of {enrolment.pseudonym} saved.")
            return redirect(reverse("studies:detail", args=[study.pk]) + "#readers")
    return render(
        request,
        "studies/reader_profile.html",
        {
            "study": study,
            "enrolment": enrolment,
            "profile": selectors.reader_profile_get(enrolment),
            "form": form,
        },
        status=400 if form.errors else 200,
    )


@image_view
@coordinator_required
@require_GET
def case_image(request: HttpRequest, study_id: int, public_id: str, variant: str) -> HttpResponse:
    study = _found(selectors.study_get_for_coordinator(request.user, study_id), "study")
    case = _found(selectors.case_get(study, public_id), "case")
    if variant not in ("full", "display", "thumbnail"):
        raise Http404("no such image")
    return case_image_response(case, variant)  # type: ignore[arg-type]
