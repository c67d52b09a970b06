from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from mission_control.api.events import EventListView
from mission_control.api.routing import api_path
from mission_control.api.views import HealthView

api_v1 = [
    api_path("health", HealthView.as_view(), name="health"),
    api_path("events", EventListView.as_view(), name="event-list"),
    path("", include("governance.api.urls")),
    path("", include("agents.api.urls")),
    path("", include("executions.api.urls")),
    path("", include("workflows.api.urls")),
    path("", include("observability.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^api/docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^api/redoc/?$", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("", include("mission_control.pages_urls")),
    path("", include("console.urls")),
]

handler400 = "mission_control.api.errors.json_400"
handler404 = "mission_control.api.errors.json_404"
handler500 = "mission_control.api.errors.json_500"
