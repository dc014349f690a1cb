"""REST API routes of the accounts package (mounted at /api/v1/)."""

from django.urls import path

from readerstudy.accounts import api

urlpatterns = [path("accounts/me/", api.SignedInUserAPI.as_view(), name="accounts-me")]
