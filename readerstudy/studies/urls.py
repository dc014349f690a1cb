"""Pages of the studies package (mounted at /studies/)."""

from django.urls import path

from readerstudy.studies import views

app_name = "studies"
urlpatterns = [
    path("", views.study_list, name="list"),
    path("new/", views.study_create_view, name="create"),
    path("<int:study_id>/", views.study_detail, name="detail"),
    path("<int:study_id>/settings/", views.study_settings, name="settings"),
    path("<int:study_id>/status/", views.study_status, name="status"),
    path("<int:study_id>/delete/", views.study_delete_view, name="delete"),
    path("<int:study_id>/imports/", views.import_create, name="import_create"),
    path("<int:study_id>/imports/<int:job_id>/", views.import_detail, name="import_detail"),
    path("<int:study_id>/imports/<int:job_id>/undo/", views.import_undo_view, name="import_undo"),
    path(
        "<int:study_id>/imports/<int:job_id>/status.json",
        views.import_status,
        name="import_status",
    ),
    path("<int:study_id>/readers/", views.enrol, name="enrol"),
    path(
        "<int:study_id>/readers/<int:enrolment_id>/profile/",
        views.reader_profile_edit,
        name="reader_profile",
    ),
    path(
        "<int:study_id>/cases/<uuid:public_id>/<str:variant>/",
        views.case_image,
        name="case_image",
    ),
]
