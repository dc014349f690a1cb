"""REST API routes of the scoring package (mounted at /api/v1/)."""

from django.urls import path

from readerstudy.scoring import api

urlpatterns = [
    path("scoring/models/", api.ModelVersionList.as_view(), name="scoring-models"),
    path("scoring/models/<int:pk>/", api.ModelVersionDetail.as_view(), name="scoring-model"),
    path(
        "scoring/models/<int:pk>/activate/",
        api.ModelVersionActivate.as_view(),
        name="scoring-model-activate",
    ),
    path("scoring/studies/<int:pk>/", api.StudyScoring.as_view(), name="scoring-study"),
    path(
        "scoring/studies/<int:pk>/scores/",
        api.StudyScoreImport.as_view(),
        name="scoring-study-scores",
    ),
    path(
        "scoring/studies/<int:pk>/algorithm/",
        api.StudyAlgorithm.as_view(),
        name="scoring-study-algorithm",
    ),
]
