"""``/agents`` and ``/agents/<id>``: the registry and one agent's control room.

Reads go through ``agents.selectors`` (the API's own, with its scoping and role checks); every button
posts to the agents API (start, stop, restart, scale, run, keys), so the same rules answer.
"""

from datetime import timedelta

from django.utils import timezone

from agents import selectors
from agents.api.serializers import EFFECTIVE_STATUSES
from agents.models import AgentMode
from autoscaling import selectors as autoscaling
from autoscaling.models import Action
from console.views.base import console_page, page
from executions.models import Execution
from governance.roles import Role
from mission_control.models import Event
from observability import dashboards

RECENT_EXECUTIONS = 20
PRESENCE_EVENTS = 30
PRESENCE_KINDS = ("agent.online", "agent.offline")
LIFECYCLE_KINDS = (
    "agent.started",
    "agent.stopped",
    "agent.restarted",
    "agent.scaled",
    "agent.autoscaled",
    "agent.command_acked",
)
AUTOSCALE_CHART_SPAN = timedelta(hours=1)
AUTOSCALE_DECISIONS = 15


@console_page
def agent_list(request):
    scope, now = request.mc_scope, timezone.now()
    status = request.GET.get("status", "")
    capability = request.GET.get("capability", "").strip()
    agents = selectors.agent_list(
        user=request.user,
        business=scope.current.slug if scope.current else None,
        status=status if status in EFFECTIVE_STATUSES else None,
        capability=capability or None,
        now=now,
    ).order_by("business__name", "name")
    rows = [
        {
            "agent": a,
            "status": a.effective_status(now),
            "lifecycle": a.lifecycle_label(now),
            "can_operate": scope.can(a.business_id, Role.OPERATOR),
        }
        for a in agents
    ]
    context = {
        "rows": rows,
        "statuses": EFFECTIVE_STATUSES,
        "status": status,
        "capability": capability,
        "admin_businesses": [
            b for b in scope.businesses if b.pk in scope.ids and scope.can(b.pk, Role.ADMIN)
        ],
        "modes": AgentMode.choices,
    }
    return page(
        request, "console/agents/list.html", context, active="agents", partial="console/agents/_table.html"
    )


def _usage(agent) -> list[dict]:
    """Executions, failure rate, tokens, cost and utilisation over 24 h and 7 d, from the rollups
    (``observability.dashboards.agent_table``, the figures of ``/api/v1/dashboard/agents``)."""
    scope = dashboards.Scope(business=agent.business, business_ids=[agent.business_id])
    rows = []
    for label, window in (("Last 24 hours", timedelta(hours=24)), ("Last 7 days", timedelta(days=7))):
        table = dashboards.agent_table(scope, window=window)["results"]
        row = next((r for r in table if r["agent"] == agent.pk), None)
        if row:
            rows.append({"label": label, **row})
    return rows


def _autoscale(agent, now) -> dict:
    """The policy, the last hour's replicas against queue depth (decisions marked), recent decisions.
    One query for an agent that never had a policy (no policy, no decisions), three otherwise."""
    policy = autoscaling.policy_or_default(agent)
    if policy.pk is None:
        return {"policy": policy, "chart": {"type": "line", "labels": [], "datasets": []}, "decisions": []}
    rows = autoscaling.chart_rows(agent, since=now - AUTOSCALE_CHART_SPAN)
    acted = (Action.SCALE_UP, Action.SCALE_DOWN, Action.REFUSED)
    chart = {
        "type": "line",
        "unit": "count",
        "labels": [timezone.localtime(r.at).strftime("%H:%M:%S") for r in rows],
        "datasets": [
            {"label": "Replicas", "data": [r.replicas_after for r in rows], "stepped": True, "fill": False},
            {"label": "Queue depth", "data": [r.queue for r in rows], "fill": False},
            {
                "label": "Decision (replicas after)",
                "data": [r.replicas_after if r.action in acted else None for r in rows],
                "showLine": False,
                "pointRadius": 6,
                "pointStyle": "triangle",
            },
        ]
        if rows
        else [],
    }
    decisions = list(autoscaling.decisions(agent=agent).filter(action__in=acted)[:AUTOSCALE_DECISIONS])
    return {"policy": policy, "chart": chart, "decisions": decisions}


@console_page
def agent_detail(request, agent_id: int):
    scope, now = request.mc_scope, timezone.now()
    agent = selectors.get_agent(user=request.user, pk=agent_id)  # 404 outside the user's businesses
    executions = list(Execution.objects.filter(agent_id=agent.pk).order_by("-id")[:RECENT_EXECUTIONS])
    history = list(
        Event.objects.filter(agent_id=agent.pk, kind__in=PRESENCE_KINDS + LIFECYCLE_KINDS).order_by("-id")[
            :PRESENCE_EVENTS
        ]
    )
    context = {
        "agent": agent,
        "usage": _usage(agent),
        "status": agent.effective_status(now),
        "lifecycle": agent.lifecycle_label(now),
        "keys": list(selectors.key_list(agent=agent)[:50]),
        "commands": list(selectors.command_list(agent=agent, pending=True)[:20]),
        "executions": executions,
        "history": history,
        "autoscale": _autoscale(agent, now),
        "can_operate": scope.can(agent.business_id, Role.OPERATOR),
        "can_admin": scope.can(agent.business_id, Role.ADMIN),
    }
    return page(
        request, "console/agents/detail.html", context, active="agents", partial="console/agents/_state.html"
    )
