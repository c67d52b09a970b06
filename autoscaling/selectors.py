"""Reads: the live figures of an agent's queue, its policy, its decisions."""

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, Min, Q, QuerySet

from agents.models import Agent, AgentCommand, CommandType
from autoscaling.models import AUTOSCALER, Action, AutoscaleDecision, AutoscalePolicy
from autoscaling.recommendation import Figures
from board.models import Task
from executions.models import Execution, Status

THROUGHPUT_WINDOW = timedelta(minutes=5)


def _ready_tasks(agent: Agent) -> int:
    """Ready board tasks ``agent`` could claim: unassigned or its own, capabilities it has."""
    capabilities = [c for c in (agent.capabilities or []) if isinstance(c, str)]
    tasks = (
        Task.objects.ready()
        .filter(business_id=agent.business_id)
        .filter(Q(assignee__isnull=True) | Q(assignee_id=agent.pk))
    )
    if connection.vendor == "postgresql":
        return tasks.filter(required_capabilities__contained_by=capabilities).count()
    have = set(capabilities)
    return sum(
        1 for needs in tasks.values_list("required_capabilities", flat=True) if set(needs or []) <= have
    )


def figures(agent: Agent, now: datetime) -> Figures:
    """Pending (due now), running and recent throughput from the ledger; ready tasks from the board.
    Three queries, all on ``execution_agent_status`` or the board's own indexes."""
    mine = Execution.objects.filter(agent_id=agent.pk)
    due = Q(not_before__isnull=True) | Q(not_before__lte=now)
    live = mine.filter(status__in=(Status.PENDING, Status.RUNNING)).aggregate(
        pending=Count("pk", filter=Q(status=Status.PENDING) & due),
        running=Count("pk", filter=Q(status=Status.RUNNING)),
        oldest=Min("created_at", filter=Q(status=Status.PENDING) & due),
    )
    finished = mine.filter(
        status__in=(Status.SUCCESS, Status.FAILED, Status.ABORTED), finished_at__gte=now - THROUGHPUT_WINDOW
    ).count()
    oldest = live["oldest"]
    return Figures(
        pending=live["pending"],
        ready_tasks=_ready_tasks(agent),
        running=live["running"],
        oldest_wait_s=max(0.0, (now - oldest).total_seconds()) if oldest else None,
        throughput_per_min=finished / (THROUGHPUT_WINDOW.total_seconds() / 60),
    )


def policy_or_default(agent: Agent) -> AutoscalePolicy:
    """The agent's policy, or (unsaved) the one a first PUT would start from: disabled, the agent's
    own bounds."""
    policy = AutoscalePolicy.objects.filter(agent_id=agent.pk).first()
    return policy or default_policy(agent)


def default_policy(agent: Agent) -> AutoscalePolicy:
    return AutoscalePolicy(
        agent=agent, min_replicas=min(max(agent.min_scale, 1), agent.max_scale), max_replicas=agent.max_scale
    )


def recent_recommendations(agent_id: int, since: datetime) -> list[tuple[datetime, int]]:
    """The stabilisation windows' memory: this agent's recommendations since ``since``."""
    return list(
        AutoscaleDecision.objects.filter(agent_id=agent_id, at__gte=since).values_list("at", "recommended")
    )


def last_change(agent_id: int) -> AutoscaleDecision | None:
    return (
        AutoscaleDecision.objects.filter(agent_id=agent_id, action__in=(Action.SCALE_UP, Action.SCALE_DOWN))
        .order_by("-at")
        .first()
    )


def last_decision(agent_id: int) -> AutoscaleDecision | None:
    return AutoscaleDecision.objects.filter(agent_id=agent_id).order_by("-at", "-id").first()


def manual_scale_since(agent_id: int, since: datetime) -> AgentCommand | None:
    """The newest scale an operator (not the autoscaler) asked for since ``since``."""
    return (
        AgentCommand.objects.filter(agent_id=agent_id, type=CommandType.SCALE, created_at__gte=since)
        .exclude(requested_by=AUTOSCALER)
        .order_by("-id")
        .first()
    )


def decisions(*, agent: Agent, action: str | None = None) -> QuerySet[AutoscaleDecision]:
    qs = AutoscaleDecision.objects.filter(agent_id=agent.pk)
    return qs.filter(action=action) if action else qs


def chart_rows(agent: Agent, *, since: datetime) -> list[AutoscaleDecision]:
    """Every evaluation since ``since``, oldest first: the agent page's replicas-against-queue chart."""
    return list(decisions(agent=agent).filter(at__gte=since).order_by("at", "id"))
