"""Pages of the reading package (mounted at /reading/)."""

from django.urls import path  # noqa: F401

app_name = "reading"
urlpatterns: list = []
