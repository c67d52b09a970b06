"""This process's own request metrics for ``/metrics`` (``prometheus-client``'s default registry).

Labelled by the URL pattern's name, not the path, so the label set stays bounded.
"""

import time

from mission_control.request_metrics import LATENCY, METHODS, REQUESTS


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.view_name or "unnamed") if match else "unmatched"
        method = request.method if request.method in METHODS else "other"
        REQUESTS.labels(method, route, str(response.status_code)).inc()
        LATENCY.labels(method, route).observe(time.perf_counter() - started)
        return response
