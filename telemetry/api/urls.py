from mission_control.api.routing import api_path
from telemetry.api import views

urlpatterns = [
    # OTEL_EXPORTER_OTLP_ENDPOINT=<base>/api/v1/otel: exporters append /v1/traces.
    api_path("otel/v1/traces", views.TraceExportView.as_view(), name="otel-traces"),
]
