from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from readerstudy.core import views as core_views

api_v1 = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("", include("readerstudy.accounts.api_urls")),
    path("", include("readerstudy.studies.api_urls")),
    path("", include("readerstudy.reading.api_urls")),
    path("", include("readerstudy.scoring.api_urls")),
    path("", include("readerstudy.analysis.api_urls")),
]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("accounts/", include("readerstudy.accounts.urls")),
    path("studies/", include("readerstudy.studies.urls")),
    path("reading/", include("readerstudy.reading.urls")),
    path("scoring/", include("readerstudy.scoring.urls")),
    path("analysis/", include("readerstudy.analysis.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
]

handler404 = core_views.not_found
