"""What each alert rule kind watches: ``check(rule, now) -> {subject: Breach}`` for what holds now.

Short windows (minutes) are finer than the hourly rollups, so these read the ledger, but only the
window's rows, through its ``(business, started_at)`` index.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum

from agents.models import Agent, DesiredState
from executions.models import TERMINAL, Execution, Status
from governance.models import BudgetWindow
from mission_control.display import money
from mission_control.models import Event
from observability.models import AlertRule, RuleKind
from workflows.models import CronJob


@dataclass(frozen=True)
class Breach:
    value: Decimal
    message: str
    agent_id: int | None = None


def _ledger(rule: AlertRule, since: datetime):
    qs = Execution.objects.filter(business_id=rule.business_id, started_at__gte=since)
    return qs.filter(agent_id=rule.agent_id) if rule.agent_id else qs


def _names(ids) -> dict[int, str]:
    return dict(Agent.objects.filter(pk__in=set(ids)).values_list("pk", "name"))


def failure_rate(rule: AlertRule, now: datetime) -> dict[str, Breach]:
    """Per agent: failed / finished among executions started in the window."""
    rows = (
        _ledger(rule, now - timedelta(minutes=rule.window_minutes))
        .filter(status__in=TERMINAL)
        .values("agent_id")
        .annotate(total=Count("pk"), failed=Count("pk", filter=Q(status=Status.FAILED)))
        .order_by()
    )
    rows = [r for r in rows if r["total"] >= max(rule.min_executions, 1)]
    names = _names(r["agent_id"] for r in rows)
    found = {}
    for row in rows:
        value = (Decimal(row["failed"]) / Decimal(row["total"])).quantize(Decimal("0.0001"))
        if value > rule.threshold:
            name = names.get(row["agent_id"], f"agent {row['agent_id']}")
            found[f"agent:{row['agent_id']}"] = Breach(
                value,
                f"{name}: {row['failed']} of {row['total']} executions failed ({value:.0%}) in the last "
                f"{rule.window_minutes} min (threshold {rule.threshold:.0%})",
                row["agent_id"],
            )
    return found


def cost_burn(rule: AlertRule, now: datetime) -> dict[str, Breach]:
    """Cost of the executions started in the window, per hour."""
    spent = _ledger(rule, now - timedelta(minutes=rule.window_minutes)).aggregate(cost=Sum("cost_usd"))[
        "cost"
    ]
    burn = (Decimal(spent or 0) * 60 / rule.window_minutes).quantize(Decimal("1e-8"))
    if burn <= rule.threshold:
        return {}
    scope = _names([rule.agent_id]).get(rule.agent_id, "") if rule.agent_id else rule.business.name
    subject = f"agent:{rule.agent_id}" if rule.agent_id else "business"
    return {
        subject: Breach(
            burn,
            f"{scope} is spending {money(burn)} per hour over the last {rule.window_minutes} min "
            f"(threshold {money(rule.threshold)} per hour)",
            rule.agent_id,
        )
    }


def agent_offline(rule: AlertRule, now: datetime) -> dict[str, Breach]:
    """Agents that should run, seen before, and silent for their timeout plus the window."""
    # Offline already ``window`` minutes ago, and still: the agents app owns what offline means.
    agents = Agent.objects.offline(now - timedelta(minutes=rule.window_minutes)).filter(
        business_id=rule.business_id, desired_state=DesiredState.RUNNING, last_heartbeat__isnull=False
    )
    if rule.agent_id:
        agents = agents.filter(pk=rule.agent_id)
    found = {}
    for agent in agents.only("pk", "name", "last_heartbeat"):
        minutes = Decimal(int((now - agent.last_heartbeat).total_seconds() // 60))
        found[f"agent:{agent.pk}"] = Breach(
            minutes,
            f"{agent.name} has been offline for {minutes} min (last heartbeat {agent.last_heartbeat:%H:%M} UTC)",
            agent.pk,
        )
    return found


def cron_missed(rule: AlertRule, now: datetime) -> dict[str, Breach]:
    """Cron jobs that reported a missed run within the window (the ``cron.missed`` events)."""
    events = Event.objects.filter(
        business_id=rule.business_id, kind="cron.missed", ts__gte=now - timedelta(minutes=rule.window_minutes)
    ).values_list("data", "message", "agent_id")
    found: dict[str, Breach] = {}
    for data, message, agent_id in events:
        job = (data or {}).get("cron_job")
        if job is None or (rule.cron_job_id and job != rule.cron_job_id):
            continue
        subject = f"cron:{job}"
        count = found[subject].value + 1 if subject in found else Decimal(1)
        found[subject] = Breach(
            count, f"{message} ({count} missed in the last {rule.window_minutes} min)", agent_id
        )
    return found


def cron_failing(rule: AlertRule, now: datetime) -> dict[str, Breach]:
    """Cron jobs whose last runs failed in a row: ``threshold`` of them, or the job's own setting."""
    jobs = CronJob.objects.filter(business_id=rule.business_id, consecutive_failures__gt=0)
    if rule.cron_job_id:
        jobs = jobs.filter(pk=rule.cron_job_id)
    found = {}
    for job in jobs:
        needed = int(rule.threshold) or getattr(job, "failure_alert_after", 0) or 1
        if job.consecutive_failures >= needed:
            found[f"cron:{job.pk}"] = Breach(
                Decimal(job.consecutive_failures),
                f"Cron job {job.name} failed {job.consecutive_failures} times in a row",
                job.agent_id,
            )
    return found


def budget_soft_limit(rule: AlertRule, now: datetime) -> dict[str, Breach]:
    """Budgets whose current window's spend is past the soft limit (the next window recovers)."""
    windows = BudgetWindow.objects.filter(
        budget__business_id=rule.business_id, budget__enabled=True, window_start__lte=now, window_end__gt=now
    ).select_related("budget")
    if rule.agent_id:
        windows = windows.filter(budget__agent_id=rule.agent_id)
    found = {}
    for window in windows:
        budget = window.budget
        if window.spent_usd >= budget.soft_limit_usd:
            pct = (
                (window.spent_usd * 100 / budget.limit_usd).quantize(Decimal("0.1"))
                if budget.limit_usd
                else None
            )
            scope = f"agent {budget.agent_id}" if budget.agent_id else rule.business.name
            found[f"budget:{budget.pk}"] = Breach(
                window.spent_usd,
                f"The {budget.period} budget of {scope} is at {money(window.spent_usd)} of {money(budget.limit_usd)}"
                + (f" ({pct}%, soft limit {budget.soft_limit_pct}%)" if pct is not None else ""),
                budget.agent_id,
            )
    return found


CHECKS = {
    RuleKind.FAILURE_RATE: failure_rate,
    RuleKind.COST_BURN: cost_burn,
    RuleKind.AGENT_OFFLINE: agent_offline,
    RuleKind.CRON_MISSED: cron_missed,
    RuleKind.CRON_FAILING: cron_failing,
    RuleKind.BUDGET_SOFT_LIMIT: budget_soft_limit,
}


def register(kind: str, check) -> None:
    """A kind checked by an app above this one (``agent_at_risk``: the intelligence app's
    predictions): it hands its check in at start-up, so nothing here imports it."""
    CHECKS[kind] = check
