"""Workload and bottlenecks: where work waits, what is slow, what fails, what is stuck.

Queue depth and stuck work are live counts over the ledger's index of non-terminal rows; everything
over the window comes from the rollups. A fixed number of queries, whatever the fleet's size.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from agents.models import Agent
from board.models import Task
from executions.models import Execution, Status
from mission_control.params import id_or_none
from observability.dashboards import Scope, average, money, rate, window_bounds, window_rows
from observability.models import SourceKind, SourceRollup, cost_from_e8
from workflows.models import CronJob, Workflow

TOP = 5
STUCK_LIMIT = 20


def report(scope: Scope, *, window: timedelta, stuck_after: timedelta, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    since, until = window_bounds(window, now)
    cutoff = now - stuck_after
    agents = list(Agent.objects.filter(scope.filter()).with_live_status(now).order_by("name", "pk"))
    live = _live(scope)
    figures = _agent_figures(scope, since, now)
    queue = [_queue_row(agent, live.get(agent.pk, {}), figures.get(agent.pk, {}), now) for agent in agents]
    agent_rows = [_performance(agent, figures[agent.pk]) for agent in agents if agent.pk in figures]
    cron_rows, step_rows = _sources(scope, since)
    return {
        "business": scope.business.slug if scope.business else None,
        "since": since,
        "until": until,
        "stuck_after_s": int(stuck_after.total_seconds()),
        "queue": queue,
        "capabilities": _capabilities(agents, queue, figures, _ready_tasks(scope), now),
        "slowest_agents": _top(agent_rows, "avg_duration_ms"),
        "failing_agents": _top([r for r in agent_rows if r["failed"]], "failure_rate", "failed"),
        "slowest_cron_jobs": _top(cron_rows, "avg_duration_ms"),
        "failing_cron_jobs": _top([r for r in cron_rows if r["failed"]], "failure_rate", "failed"),
        "slowest_workflow_steps": _top(step_rows, "avg_duration_ms"),
        "failing_workflow_steps": _top([r for r in step_rows if r["failed"]], "failure_rate", "failed"),
        "stuck_executions": _stuck_executions(scope, cutoff, now),
        "stuck_tasks": _stuck_tasks(scope, cutoff, now),
    }


def _top(rows: list[dict], *keys: str) -> list[dict]:
    ranked = [r for r in rows if r[keys[0]] is not None]
    return sorted(ranked, key=lambda r: tuple(-(r[k] or 0) for k in keys))[:TOP]


def _live(scope: Scope) -> dict[int, dict]:
    rows = (
        Execution.objects.filter(scope.filter(), status__in=(Status.PENDING, Status.RUNNING))
        .values("agent_id", "status")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
        .order_by()
    )
    found: dict[int, dict] = defaultdict(dict)
    for row in rows:
        found[row["agent_id"]][row["status"]] = row
    return found


def _agent_figures(scope: Scope, since: datetime, now: datetime) -> dict[int, dict]:
    fields = (
        "executions",
        "failed",
        "duration_ms_sum",
        "duration_count",
        "duration_ms_max",
        "wait_ms_sum",
        "wait_count",
        "cost_e8",
    )
    rows = window_rows(scope, since, group=("agent_id",), fields=fields, now=now)
    return {key[0]: row for key, row in rows.items() if row["executions"]}


def _queue_row(agent: Agent, live: dict, figures: dict, now: datetime) -> dict:
    pending = live.get(Status.PENDING, {})
    oldest = pending.get("oldest")
    return {
        "agent": agent.pk,
        "name": agent.name,
        "capabilities": agent.capabilities,
        "status": agent.effective_status(now),
        "queued": pending.get("n", 0),
        "running": live.get(Status.RUNNING, {}).get("n", 0),
        "oldest_queued_at": oldest,
        "oldest_wait_s": int((now - oldest).total_seconds()) if oldest else None,
        "avg_wait_ms": average(figures.get("wait_ms_sum"), figures.get("wait_count")),
    }


def _performance(agent: Agent, f: dict) -> dict:
    return {
        "agent": agent.pk,
        "name": agent.name,
        "executions": f["executions"],
        "failed": f["failed"],
        "failure_rate": rate(f["failed"], f["executions"]),
        "avg_duration_ms": average(f["duration_ms_sum"], f["duration_count"]),
        "max_duration_ms": f["duration_ms_max"] if f["duration_count"] else None,
        "cost_usd": money(cost_from_e8(f["cost_e8"])),
    }


def _ready_tasks(scope: Scope) -> list[list]:
    return list(
        Task.objects.ready().filter(scope.filter()).values_list("required_capabilities", flat=True)[:10_000]
    )


def _capability(by_capability: dict, name: str) -> dict:
    return by_capability.setdefault(
        name,
        {
            "capability": name,
            "agents": 0,
            "online": 0,
            "queued": 0,
            "running": 0,
            "ready_tasks": 0,
            "oldest_wait_s": None,
            "avg_wait_ms": None,
            "_wait": [0, 0],
        },
    )


def _capabilities(
    agents: list[Agent], queue: list[dict], figures: dict[int, dict], ready_tasks: list[list], now: datetime
) -> list[dict]:
    """Per capability: its agents' queues and waits now, and their average wait over the window
    (weighted by executions), plus the ready tasks that ask for it."""
    by_capability: dict[str, dict] = {}
    for agent, row in zip(agents, queue, strict=True):
        f = figures.get(agent.pk, {})
        for name in agent.capabilities or []:
            entry = _capability(by_capability, name)
            entry["agents"] += 1
            entry["online"] += not agent.is_offline(now)
            entry["queued"] += row["queued"]
            entry["running"] += row["running"]
            waits = [entry["oldest_wait_s"], row["oldest_wait_s"]]
            entry["oldest_wait_s"] = max((w for w in waits if w is not None), default=None)
            entry["_wait"][0] += f.get("wait_ms_sum") or 0
            entry["_wait"][1] += f.get("wait_count") or 0
    for required in ready_tasks:
        for name in required or []:
            _capability(by_capability, name)["ready_tasks"] += 1
    for entry in by_capability.values():
        entry["avg_wait_ms"] = average(*entry.pop("_wait"))
    return sorted(by_capability.values(), key=lambda e: (-e["queued"] - e["ready_tasks"], e["capability"]))


def _sources(scope: Scope, since: datetime) -> tuple[list[dict], list[dict]]:
    rows = list(
        SourceRollup.objects.filter(scope.filter(), hour__gte=since)
        .values("kind", "key")
        .annotate(
            executions=Sum("executions"),
            failed=Sum("failed"),
            duration_ms_sum=Sum("duration_ms_sum"),
            duration_count=Sum("duration_count"),
            duration_ms_max=Max("duration_ms_max"),
            cost_e8=Sum("cost_e8"),
        )
        .order_by()
    )
    cron_names, workflow_names = _names(rows)
    cron_rows, step_rows = [], []
    for row in rows:
        entry = {
            "executions": row["executions"],
            "failed": row["failed"],
            "failure_rate": rate(row["failed"], row["executions"]),
            "avg_duration_ms": average(row["duration_ms_sum"], row["duration_count"]),
            "max_duration_ms": row["duration_ms_max"] if row["duration_count"] else None,
            "cost_usd": money(cost_from_e8(row["cost_e8"])),
        }
        if row["kind"] == SourceKind.CRON:
            cron_id = int(row["key"])
            cron_rows.append({"cron_job": cron_id, "name": cron_names.get(cron_id, ""), **entry})
        else:
            workflow, _, step = row["key"].partition(":")
            workflow_id = id_or_none(workflow)
            step_rows.append(
                {
                    "workflow": workflow_id,
                    "workflow_name": workflow_names.get(workflow_id, ""),
                    "step": step,
                    **entry,
                }
            )
    return cron_rows, step_rows


def _names(rows: list[dict]) -> tuple[dict, dict]:
    cron_ids = {int(r["key"]) for r in rows if r["kind"] == SourceKind.CRON}
    workflow_ids = {
        w for r in rows if r["kind"] == SourceKind.STEP for w in [id_or_none(r["key"].partition(":")[0])] if w
    }
    crons = dict(CronJob.objects.filter(pk__in=cron_ids).values_list("pk", "name")) if cron_ids else {}
    flows = (
        dict(Workflow.objects.filter(pk__in=workflow_ids).values_list("pk", "name")) if workflow_ids else {}
    )
    return crons, flows


def _stuck_executions(scope: Scope, cutoff: datetime, now: datetime) -> list[dict]:
    stuck = Q(status=Status.RUNNING, started_at__lt=cutoff) | Q(status=Status.PENDING, created_at__lt=cutoff)
    rows = (
        Execution.objects.filter(scope.filter(), stuck, status__in=(Status.PENDING, Status.RUNNING))
        .order_by("created_at")
        .values("pk", "agent_id", "status", "trigger", "created_at", "started_at")[:STUCK_LIMIT]
    )
    return [
        {
            "execution": row["pk"],
            "agent": row["agent_id"],
            "status": row["status"],
            "trigger": row["trigger"],
            "since": row["started_at"] or row["created_at"],
            "for_s": int((now - (row["started_at"] or row["created_at"])).total_seconds()),
        }
        for row in rows
    ]


def _stuck_tasks(scope: Scope, cutoff: datetime, now: datetime) -> list[dict]:
    fields = {f.name for f in Task._meta.get_fields()}
    # The time of the last status change where the board keeps it; its last update otherwise.
    changed = "status_changed_at" if "status_changed_at" in fields else "updated_at"
    rows = (
        Task.objects.filter(scope.filter(), **{f"{changed}__lt": cutoff})
        .exclude(status="done")
        .order_by(changed)
        .values("pk", "title", "status", "assignee_id", changed)[:STUCK_LIMIT]
    )
    return [
        {
            "task": row["pk"],
            "title": row["title"],
            "status": row["status"],
            "assignee": row["assignee_id"],
            "since": row[changed],
            "for_s": int((now - row[changed]).total_seconds()),
        }
        for row in rows
    ]
