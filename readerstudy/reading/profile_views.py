"""What a reader meets before the first case of a study: its consent text (where it has one),
then the profile form (where it asks for one).

The consent is asked once and recorded with its time. The profile is asked once too: the form
is prefilled from the reader's profile in their most recent other study, so a reader who has
read before only confirms it; once given, the coordinator edits it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from readerstudy.reading import selectors
from readerstudy.reading.views import reader_required
from readerstudy.studies.forms import ReaderProfileForm
from readerstudy.studies.selectors import (
    reader_consent_missing,
    reader_profile_get,
    reader_profile_initial,
)
from readerstudy.studies.services import enrolment_consent_give, reader_profile_save


@never_cache
@reader_required
@require_http_methods(["GET", "POST"])
def reader_consent(request: HttpRequest, study_id: int) -> HttpResponse:
    enrolment = selectors.grading_enrolment_get(user=request.user, study_id=study_id)
    if enrolment is None:
        raise Http404("No such study to grade.")
    if not reader_consent_missing(enrolment):
        return redirect("reading:grade", study_id=study_id)
    if request.method == "POST":
        enrolment_consent_give(enrolment=enrolment)
        return redirect("reading:grade", study_id=study_id)
    return render(
        request,
        "reading/consent.html",
        {"study": enrolment.study, "home_url": reverse("reading:home")},
    )


@never_cache
@reader_required
@require_http_methods(["GET", "POST"])
def reader_profile(request: HttpRequest, study_id: int) -> HttpResponse:
    enrolment = selectors.grading_enrolment_get(user=request.user, study_id=study_id)
    if enrolment is None:
        raise Http404("No such study to grade.")
    if reader_consent_missing(enrolment):
        return redirect("reading:consent", study_id=study_id)
    if reader_profile_get(enrolment) is not None:
        return redirect("reading:grade", study_id=study_id)
    initial = reader_profile_initial(enrolment)
    form = ReaderProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            reader_profile_save(enrolment=enrolment, saved_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("reading:grade", study_id=study_id)
    return render(
        request,
        "reading/profile.html",
        {"study": enrolment.study, "form": form, "prefilled": bool(initial)},
        status=400 if form.errors else 200,
    )
