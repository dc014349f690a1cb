"""REST API routes of the studies package (mounted at /api/v1/)."""

from django.urls import path

from readerstudy.studies import api

urlpatterns = [
    path("studies/", api.StudyListCreateAPI.as_view(), name="study-list"),
    path("studies/<int:study_id>/", api.StudyDetailAPI.as_view(), name="study-detail"),
    path(
        "studies/<int:study_id>/imports/",
        api.ImportListCreateAPI.as_view(),
        name="study-import-list",
    ),
    path(
        "studies/<int:study_id>/imports/<int:job_id>/",
        api.ImportDetailAPI.as_view(),
        name="study-import-detail",
    ),
    path(
        "studies/<int:study_id>/imports/<int:job_id>/undo/",
        api.ImportUndoAPI.as_view(),
        name="study-import-undo",
    ),
    path(
        "studies/<int:study_id>/imports/<int:job_id>/report/",
        api.ImportReportAPI.as_view(),
        name="study-import-report",
    ),
    path(
        "studies/<int:study_id>/confound-audit/",
        api.ConfoundAuditAPI.as_view(),
        name="study-confound-audit",
    ),
    path("studies/<int:study_id>/cases/", api.CaseListAPI.as_view(), name="study-case-list"),
    path(
        "studies/<int:study_id>/progress/",
        api.ReaderProgressAPI.as_view(),
        name="study-reader-progress",
    ),
    path(
        "studies/<int:study_id>/enrolments/",
        api.EnrolmentListCreateAPI.as_view(),
        name="study-enrolment-list",
    ),
    path(
        "studies/<int:study_id>/enrolments/<int:enrolment_id>/profile/",
        api.EnrolmentProfileAPI.as_view(),
        name="study-enrolment-profile",
    ),
]
