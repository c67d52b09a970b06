"""The process's HTTP request metrics (``prometheus-client``'s default registry), counted by
``telemetry.middleware`` for Django's requests and by the agents process's heartbeat front
(``agents.api.heartbeat_front``) for the beats it answers itself: one series whichever answered.

Labelled by the URL pattern's name, not the path, so the label set stays bounded.
"""

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
