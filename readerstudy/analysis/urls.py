"""Pages of the analysis package (mounted at /analysis/)."""

from django.urls import path  # noqa: F401

app_name = "analysis"
urlpatterns: list = []
