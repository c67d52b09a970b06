"""``GET /metrics``: the Prometheus text format, for an operator token or the scrape token.

A superuser's token and the scrape token (``MC_METRICS_TOKEN``) see every business; any other
operator sees the businesses they belong to. Agent keys get 403.
"""

import hmac

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.views import APIView

from agents.auth import AgentKeyAuthentication
from governance.access import visible_businesses
from governance.auth import OperatorTokenAuthentication, bearer_token
from governance.permissions import PeopleOnly
from telemetry.api.views import AnyAccept
from telemetry.metrics import FleetCollector, Scope

SCRAPE_PREFIX = "mcs_"
# The classic text format (0.0.4), which every Prometheus 2.x reads; our names need nothing newer.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


class Scraper:
    """The Prometheus server, signed in with the scrape token: reads every business, nothing else."""

    is_authenticated = True
    is_active = True
    is_superuser = False
    is_agent = False
    pk = None

    def __str__(self) -> str:
        return "scraper"


class ScrapeTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <MC_METRICS_TOKEN>`` (compared in constant time)."""

    def authenticate(self, request):
        raw = bearer_token(request)
        expected = settings.MC_METRICS_TOKEN
        if not raw or not expected or not raw.startswith(SCRAPE_PREFIX):
            return None
        if not hmac.compare_digest(raw.encode(), expected.encode()):
            raise AuthenticationFailed("Invalid scrape token.")
        return Scraper(), None

    def authenticate_header(self, request):
        return 'Bearer realm="metrics"'


def scope_of(user) -> Scope:
    if isinstance(user, Scraper) or user.is_superuser:
        return Scope(business_ids=None)
    return Scope(business_ids=list(visible_businesses(user).values_list("pk", flat=True)))


class MetricsView(APIView):
    """The fleet in the Prometheus text format (``prometheus-client``), plus this process's own."""

    # Agent keys are recognised only to be told 403, as everywhere.
    authentication_classes = [ScrapeTokenAuthentication, OperatorTokenAuthentication, AgentKeyAuthentication]
    permission_classes = [PeopleOnly]
    # A scrape every 15 s is no burst; the scrape token has no user for the operator rate limit.
    throttle_classes = []
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="metrics",
        responses={
            (200, "text/plain"): OpenApiResponse(
                response=OpenApiTypes.STR, description="Prometheus text exposition format 0.0.4."
            )
        },
    )
    def get(self, request):
        registry = CollectorRegistry(auto_describe=False)
        registry.register(FleetCollector(scope_of(request.user)))
        body = generate_latest(registry) + generate_latest(REGISTRY)
        return HttpResponse(body, content_type=CONTENT_TYPE)
