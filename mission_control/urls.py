from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from mission_control.api.events import EventListView
from mission_control.api.redoc import redoc_bundle
from mission_control.api.routing import api_path
from mission_control.api.views import HealthView

api_v1 = [
    api_path("health", HealthView.as_view(), name="health"),
    api_path("events", EventListView.as_view(), name="event-list"),
    path("", include("governance.api.urls")),
    path("", include("agents.api.urls")),
    path("", include("brain.api.urls")),
    path("", include("executions.api.urls")),
    path("", include("board.api.urls")),
    path("", include("workflows.api.urls")),
    path("", include("observability.api.urls")),
    path("", include("intelligence.api.urls")),
    path("", include("telemetry.api.urls")),
    path("", include("autoscaling.api.urls")),
]

redoc = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]})(
    SpectacularRedocView.as_view(url_name="schema")
)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("telemetry.urls")),  # /metrics, for Prometheus
    path("api/v1/", include(api_v1)),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script under the CSP.
    re_path(r"^api/docs/?$", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # ReDoc's bundle injects its styles as <style> elements and searches in a blob: worker.
    re_path(r"^api/redoc/?$", redoc, name="api-redoc"),
    # REDOC_DIST points here: the sidecar's bundle without its one remote image (api/redoc.py).
    path("api/redoc-dist/bundles/redoc.standalone.js", redoc_bundle, name="api-redoc-bundle"),
    path("", include("mission_control.pages_urls")),
    path("", include("console.urls")),
]

handler400 = "mission_control.api.errors.json_400"
handler404 = "mission_control.api.errors.json_404"
handler500 = "mission_control.api.errors.json_500"
