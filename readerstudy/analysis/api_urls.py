"""REST API routes of the analysis package (mounted at /api/v1/)."""

from django.urls import path

from readerstudy.analysis import api

urlpatterns = [
    path("analysis/studies/<int:pk>/", api.StudyAnalysisView.as_view(), name="analysis-study"),
    path(
        "analysis/studies/<int:pk>/exports/<str:fmt>/",
        api.StudyExportView.as_view(),
        name="analysis-study-export",
    ),
    path(
        "analysis/studies/<int:pk>/compare/",
        api.StudyAlgorithmComparisonView.as_view(),
        name="analysis-study-compare",
    ),
]
