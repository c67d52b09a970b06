from django.urls import re_path

from telemetry.api.metrics import MetricsView

urlpatterns = [
    re_path(r"^metrics/?$", MetricsView.as_view(), name="metrics"),
]
