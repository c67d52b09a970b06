"""This process's own request metrics for ``/metrics`` (``prometheus-client``'s default registry).

Labelled by the URL pattern's name, not the path, so the label set stays bounded.
"""

import time

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "mc_http_requests", "HTTP requests answered by this process.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "mc_http_request_duration_seconds",
    "Time to answer an HTTP request in this process.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


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
