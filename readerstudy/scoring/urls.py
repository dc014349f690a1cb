"""Pages of the scoring package (mounted at /scoring/)."""

from django.urls import path  # noqa: F401

app_name = "scoring"
urlpatterns: list = []
