"""The site's URLs plus one route that no expectation covers (for the access matrix's own test)."""

from django.urls import path

from readerstudy.core.views import healthz
from readerstudy.urls import urlpatterns as site_urlpatterns

urlpatterns = [*site_urlpatterns, path("reports/<int:study_id>/", healthz, name="new-report")]
