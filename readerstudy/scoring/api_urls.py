"""REST API routes of the scoring package (mounted at /api/v1/)."""

from django.urls import path

from readerstudy.scoring import api

urlpatterns = [
    path("scoring/models/", api.ModelVersionListCreateAPI.as_view(), name="scoring-models"),
    path(
        "scoring/models/<int:model_id>/", api.ModelVersionDetailAPI.as_view(), name="scoring-model"
    ),
    path(
        "scoring/models/<int:model_id>/activate/",
        api.ModelVersionActivateAPI.as_view(),
        name="scoring-model-activate",
    ),
    path("scoring/studies/<int:study_id>/", api.StudyScoringAPI.as_view(), name="scoring-study"),
    path(
        "scoring/studies/<int:study_id>/scores/",
        api.StudyScoreImportAPI.as_view(),
        name="scoring-study-scores",
    ),
    path(
        "scoring/studies/<int:study_id>/algorithm/",
        api.StudyAlgorithmAPI.as_view(),
        name="scoring-study-algorithm",
    ),
]
