"""Dashboard endpoints: parse the query, resolve the caller's scope, return the selector's figures."""

from datetime import timedelta

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.permissions import PeopleOnly
from observability import dashboards, projections, workload

BUSINESS = OpenApiParameter("business", str, description="business slug; omitted: every business you can see")


def _window(name: str, default: str, maximum: timedelta = timedelta(days=90)) -> OpenApiParameter:
    return OpenApiParameter(
        name, str, description=f"span such as 24h or 7d (default {default}, at most {maximum.days}d)"
    )


class DashboardView(APIView):
    permission_classes = [PeopleOnly]

    def scope(self, request) -> dashboards.Scope:
        return dashboards.resolve_scope(request.user, request.query_params.get("business") or None)

    def window(self, request, default: str = "24h", **kwargs) -> timedelta:
        return dashboards.parse_window(request.query_params.get("window"), default=default, **kwargs)


class SummaryView(DashboardView):
    """Agents by status, running/queued now, and the window's executions, rates, tokens and cost."""

    @extend_schema(parameters=[BUSINESS, _window("window", "24h")], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(dashboards.summary(self.scope(request), window=self.window(request)))


class AgentsView(DashboardView):
    """A row per agent: executions, average duration, failure rate, tokens, cost, utilisation."""

    @extend_schema(parameters=[BUSINESS, _window("window", "24h")], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(dashboards.agent_table(self.scope(request), window=self.window(request)))


class CostsView(DashboardView):
    """Cost, executions and tokens per hour or day, optionally one series per agent or model."""

    HOURLY_MAX = timedelta(days=14)

    @extend_schema(
        parameters=[
            BUSINESS,
            _window("window", "7d"),
            OpenApiParameter("bucket", str, enum=["hour", "day"], description="default day"),
            OpenApiParameter(
                "group_by", str, enum=["agent", "model"], description="default: one total series"
            ),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        params = request.query_params
        bucket = params.get("bucket") or "day"
        if bucket not in ("hour", "day"):
            raise ValidationError({"bucket": ["Use hour or day."]})
        group_by = params.get("group_by") or None
        if group_by not in (None, "agent", "model"):
            raise ValidationError({"group_by": ["Use agent or model."]})
        maximum = self.HOURLY_MAX if bucket == "hour" else timedelta(days=90)
        window = self.window(request, default="7d", maximum=maximum)
        return Response(
            dashboards.cost_series(self.scope(request), window=window, bucket=bucket, group_by=group_by)
        )


class ProjectionView(DashboardView):
    """Month-end cost projection per business, and each budget's spend projected to its window's end."""

    @extend_schema(parameters=[BUSINESS], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(projections.month_end(self.scope(request)))


class WorkloadView(DashboardView):
    """Queue depth and waits per agent and capability; the slowest and most failing agents, cron jobs
    and workflow steps over the window; executions and tasks stuck for longer than ``stuck_after``."""

    @extend_schema(
        parameters=[BUSINESS, _window("window", "24h"), _window("stuck_after", "1h", timedelta(days=30))],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        stuck_after = dashboards.parse_window(
            request.query_params.get("stuck_after"),
            default="1h",
            maximum=timedelta(days=30),
            name="stuck_after",
            minutes=True,
        )
        return Response(
            workload.report(self.scope(request), window=self.window(request), stuck_after=stuck_after)
        )
