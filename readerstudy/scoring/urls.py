"""Pages of the scoring package (mounted at /scoring/)."""

from django.urls import path

from readerstudy.scoring import views

app_name = "scoring"
urlpatterns = [
    path("models/", views.models_page, name="models"),
    path("models/<int:model_id>/activate/", views.model_activate, name="model_activate"),
    path("studies/<int:study_id>/progress.json", views.study_progress, name="study_progress"),
    path("studies/<int:study_id>/score/", views.study_score, name="study_score"),
    path(
        "studies/<int:study_id>/retry-failed/", views.study_retry_failed, name="study_retry_failed"
    ),
    path("studies/<int:study_id>/algorithm/", views.study_algorithm, name="study_algorithm"),
    path(
        "studies/<int:study_id>/import-scores/",
        views.study_import_scores,
        name="study_import_scores",
    ),
]
