"""``/control``: the control panel. System health, the fleet, work in flight, recent failures and the
emergency stop. Each panel reloads itself (htmx) when a live event of its kind arrives."""

from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from agents.models import Agent
from console.views.base import console_page, fragment, page
from console.views.intelligence import risk_context
from executions.models import Execution, Status
from governance.models import EmergencyStop
from governance.roles import Role
from mission_control.health import run_checks
from observability import dashboards

ACTIVE_LIMIT = 50
FAILURE_LIMIT = 10
FAILURE_WINDOW = timedelta(hours=24)
PANELS = {"health", "agents", "active", "failures", "stop", "risk"}


def _agents(scope, now) -> dict:
    agents = list(
        Agent.objects.for_business_ids(scope.ids)
        .with_live_status(now)
        .select_related("business")
        .order_by("name")
    )
    by_status: dict[str, int] = {}
    rows = []
    for agent in agents:
        status = agent.effective_status(now)
        by_status[status] = by_status.get(status, 0) + 1
        rows.append(
            {
                "agent": agent,
                "status": status,
                "lifecycle": agent.lifecycle_label(now),
                "can_operate": scope.can(agent.business_id, Role.OPERATOR),
            }
        )
    return {
        "agents": rows,
        "agents_by_status": by_status,
        "agents_online": len(rows) - by_status.get("offline", 0),
    }


def _active(scope) -> dict:
    qs = Execution.objects.for_business_ids(scope.ids).active()
    counts = qs.aggregate(
        running=Count("id", filter=Q(status=Status.RUNNING)),
        pending=Count("id", filter=Q(status=Status.PENDING)),
    )
    rows = [
        {"execution": e, "can_operate": scope.can(e.business_id, Role.OPERATOR)}
        for e in qs.select_related("agent", "business").order_by("-id")[:ACTIVE_LIMIT]
    ]
    return {"active": rows, "active_counts": counts, "active_limit": ACTIVE_LIMIT}


def _failures(scope, now) -> dict:
    # The window of the health panel's "Failed (24 h)" (whole hours, as the rollups count them), so
    # the two figures are the same count.
    since, _ = dashboards.window_bounds(FAILURE_WINDOW, now)
    qs = Execution.objects.for_business_ids(scope.ids).filter(status=Status.FAILED, finished_at__gte=since)
    rows = [
        {"execution": e, "can_operate": scope.can(e.business_id, Role.OPERATOR)}
        for e in qs.select_related("agent", "business").order_by("-finished_at", "-id")[:FAILURE_LIMIT]
    ]
    return {"failures": rows, "failures_24h": qs.count()}


def _stops(scope) -> dict:
    """Engaged stops that cover what the user sees: their businesses' own, and the global one."""
    stops = list(
        EmergencyStop.objects.active()
        .filter(Q(business_id__in=scope.ids) | Q(business__isnull=True))
        .select_related("business")
        .order_by("-engaged_at")
    )
    return {
        "stops": [
            {"stop": s, "can_release": s.business_id is None and scope.user.is_superuser}
            if s.business_id is None
            else {"stop": s, "can_release": scope.can(s.business_id, Role.OWNER)}
            for s in stops
        ],
        "can_stop": scope.can_anywhere(Role.OPERATOR),
        "stop_targets": [b for b in scope.businesses if b.pk in scope.ids and scope.can(b.pk, Role.OPERATOR)],
        "can_stop_globally": scope.user.is_superuser,
    }


def _health(request) -> dict:
    """Dependencies checked for real, and the fleet's last 24 hours from the rollups (the figures of
    ``/api/v1/dashboard/summary``, so this panel and the analytics page always agree)."""
    checks = run_checks()
    current = request.mc_scope.current
    obs = dashboards.resolve_scope(request.user, current.slug if current else None)
    summary = dashboards.summary(obs, window=timedelta(hours=24))
    return {
        "checks": checks,
        "healthy": all(v == "ok" for v in checks.values()),
        "summary": summary,
        "agents_online": summary["agents"]["total"] - summary["agents"]["offline"],
    }


@console_page
def control(request):
    scope, now = request.mc_scope, timezone.now()
    panel = request.GET.get("panel", "")
    if request.htmx and panel in PANELS:
        context = {
            "health": lambda: _health(request),
            "agents": lambda: _agents(scope, now),
            "active": lambda: _active(scope),
            "failures": lambda: _failures(scope, now),
            "stop": lambda: _stops(scope),
            "risk": lambda: risk_context(scope),
        }[panel]()
        return fragment(request, f"console/control/_{panel}.html", context)
    context = {
        **_health(request),
        **_agents(scope, now),
        **_active(scope),
        **_failures(scope, now),
        **_stops(scope),
        **risk_context(scope),
    }
    return page(request, "console/control/page.html", context, active="control")
