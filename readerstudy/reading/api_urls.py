"""REST API routes of the reading package (mounted at /api/v1/)."""

from django.urls import path

from readerstudy.reading import api

urlpatterns = [
    path("reading/studies/", api.ReaderStudyListAPI.as_view(), name="reading-studies"),
    path(
        "reading/studies/<int:study_id>/next/",
        api.NextCaseAPI.as_view(),
        name="reading-next",
    ),
    path(
        "reading/studies/<int:study_id>/previous/",
        api.PreviousCaseAPI.as_view(),
        name="reading-previous",
    ),
    path(
        "reading/studies/<int:study_id>/decisions/",
        api.DecisionSubmitAPI.as_view(),
        name="reading-decisions",
    ),
    path(
        "reading/studies/<int:study_id>/consent/",
        api.ReaderConsentAPI.as_view(),
        name="reading-consent",
    ),
    path(
        "reading/studies/<int:study_id>/profile/",
        api.ReaderProfileAPI.as_view(),
        name="reading-profile",
    ),
    path(
        "reading/studies/<int:study_id>/progress/",
        api.ReadingProgressAPI.as_view(),
        name="reading-progress",
    ),
]
