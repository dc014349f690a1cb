"""Pages of the reading package (mounted at /reading/)."""

from django.urls import path

from readerstudy.reading import profile_views, views

app_name = "reading"
urlpatterns = [
    path("", views.reader_home, name="home"),
    path("studies/<int:study_id>/", views.grade, name="grade"),
    path("studies/<int:study_id>/consent/", profile_views.reader_consent, name="consent"),
    path("studies/<int:study_id>/profile/", profile_views.reader_profile, name="profile"),
    path("studies/<int:study_id>/back/", views.grade_back, name="back"),
    path("studies/<int:study_id>/finished/", views.finished, name="finished"),
    # Images by the case's opaque id only; the view checks enrolment and study status.
    path("images/<uuid:public_id>/", views.case_image, name="image"),
    path("images/<uuid:public_id>/full/", views.case_image_full, name="image_full"),
    path("images/<uuid:public_id>/thumbnail/", views.case_image_thumbnail, name="image_thumbnail"),
    # The CNN's Grad-CAM map: only after the case's aided phase was served to this reader.
    path("images/<uuid:public_id>/saliency/", views.case_saliency, name="saliency"),
]
