"""Pages of the analysis package (mounted at /analysis/)."""

from django.urls import path

from readerstudy.analysis import aided_views, diagnosis_views, insight_views, planning_views, views

app_name = "analysis"
urlpatterns = [
    path("", views.study_list, name="studies"),
    path("planning/", planning_views.planning_page, name="planning"),
    path("planning/export/<str:fmt>/", planning_views.planning_export, name="planning_export"),
    path("studies/<int:study_id>/", views.study_analysis_page, name="study"),
    path("studies/<int:study_id>/diagnosis/", diagnosis_views.diagnosis_page, name="diagnosis"),
    path("studies/<int:study_id>/data.json", views.study_analysis_data, name="study_data"),
    path("studies/<int:study_id>/aided/", aided_views.aided_page, name="aided"),
    path("studies/<int:study_id>/export/<str:fmt>/", views.study_export, name="export"),
    path("studies/<int:study_id>/tsne.json", insight_views.tsne_data, name="tsne_data"),
    path("studies/<int:study_id>/errors/", insight_views.errors_page, name="errors"),
    path("cases/<uuid:public_id>/", insight_views.case_page, name="case"),
    path(
        "cases/<uuid:public_id>/image/<str:variant>/",
        insight_views.case_image,
        name="case_image",
    ),
    path("cases/<uuid:public_id>/saliency/", insight_views.saliency, name="saliency"),
]
