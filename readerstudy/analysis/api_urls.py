"""REST API routes of the analysis package (mounted at /api/v1/)."""

from django.urls import path

from readerstudy.analysis import aided_views, api

urlpatterns = [
    path("analysis/studies/<int:study_id>/", api.StudyAnalysisAPI.as_view(), name="analysis-study"),
    path(
        "analysis/studies/<int:study_id>/diagnosis/",
        api.StudyDiagnosisAPI.as_view(),
        name="analysis-study-diagnosis",
    ),
    path(
        "analysis/studies/<int:study_id>/exports/<str:fmt>/",
        api.StudyExportAPI.as_view(),
        name="analysis-study-export",
    ),
    path(
        "analysis/studies/<int:study_id>/aided/",
        aided_views.StudyAidedAnalysisAPI.as_view(),
        name="analysis-study-aided",
    ),
    path(
        "analysis/studies/<int:study_id>/compare/",
        api.StudyAlgorithmComparisonAPI.as_view(),
        name="analysis-study-compare",
    ),
]
