"""What ``/metrics`` says: the fleet's numbers as Prometheus metric families.

Read from the rollups and from small indexed counts, never from the ledger's history, so a scrape
every 15 s costs a fixed handful of queries whatever the size of the fleet and the ledger (a test
pins the count). Labels are bounded: business, agent, model, status, and the names of budgets'
and cron jobs' own objects; never an execution id.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, Min, OuterRef, Q, Subquery
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from agents.models import Agent
from executions.models import Execution, Status
from governance.models import Budget, Business, EmergencyStop
from governance.selectors import live_spend
from observability.models import COST_SCALE, DURATION_BUCKETS_S, LifetimeRollup
from observability.rollups import BUCKET_COLUMNS
from workflows.models import CronJob, CronRun, CronRunStatus

TOKEN_TYPES = ("input", "output", "cache_read")


@dataclass
class Scope:
    """Which businesses a scrape sees: ``None`` is every one (a superuser or the scrape token)."""

    business_ids: list[int] | None

    def q(self, field: str = "business_id") -> Q:
        return Q() if self.business_ids is None else Q(**{f"{field}__in": self.business_ids})


class FleetCollector(Collector):
    """A collector for one scrape and one scope (registered on a registry of its own)."""

    def __init__(self, scope: Scope):
        self.scope = scope

    def collect(self) -> Iterator:
        now = timezone.now()
        q = self.scope.q
        slugs = dict(Business.objects.filter(q("id")).order_by().values_list("id", "slug"))
        agents = {
            pk: (business_id, name)
            for pk, business_id, name in Agent.objects.filter(q())
            .order_by()
            .values_list("pk", "business_id", "name")
        }

        def agent_labels(agent_id: int) -> list[str]:
            business_id, name = agents.get(agent_id, (None, str(agent_id)))
            return [slugs.get(business_id, ""), name]

        yield from _agents(q, slugs, now)
        yield from _live_work(q, agent_labels, now)
        yield from _lifetime(q, slugs, agent_labels)
        yield from _budgets(q, slugs, agents)
        yield from _cron(q, slugs)
        yield from _stops(self.scope, slugs)


def _agents(q, slugs: dict, now) -> Iterator:
    by_status = GaugeMetricFamily(
        "mc_agents", "Agents by the status the console shows.", labels=["business", "status"]
    )
    by_state = GaugeMetricFamily(
        "mc_agents_by_state",
        "Agents by desired state (what operators asked) and reported status (what the agent said).",
        labels=["business", "desired_state", "reported_status"],
    )
    status_counts: dict[tuple, int] = defaultdict(int)
    rows = (
        Agent.objects.filter(q())
        .with_live_status(now)
        .values("business_id", "live_status", "desired_state", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        slug = slugs.get(row["business_id"], "")
        status_counts[(slug, row["live_status"])] += row["n"]
        by_state.add_metric([slug, row["desired_state"], row["status"]], row["n"])
    for (slug, status), n in sorted(status_counts.items()):
        by_status.add_metric([slug, status], n)
    yield by_status
    yield by_state


def _live_work(q, agent_labels, now) -> Iterator:
    depth = GaugeMetricFamily(
        "mc_agent_queue_depth", "Pending executions waiting for the agent.", labels=["business", "agent"]
    )
    oldest = GaugeMetricFamily(
        "mc_agent_queue_oldest_wait_seconds",
        "How long the agent's oldest pending execution has waited.",
        labels=["business", "agent"],
    )
    running = GaugeMetricFamily(
        "mc_executions_running", "Executions running now.", labels=["business", "agent"]
    )
    # The two partial indexes on live rows (pending claim, live) keep this to the few live rows.
    rows = (
        Execution.objects.filter(q(), status__in=[Status.PENDING, Status.RUNNING])
        .values("agent_id", "status")
        .annotate(n=Count("pk"), first=Min("created_at"))
        .order_by()
    )
    for row in rows:
        labels = agent_labels(row["agent_id"])
        if row["status"] == Status.PENDING:
            depth.add_metric(labels, row["n"])
            oldest.add_metric(labels, max(0.0, (now - row["first"]).total_seconds()))
        else:
            running.add_metric(labels, row["n"])
    yield depth
    yield oldest
    yield running


def _lifetime(q, slugs: dict, agent_labels) -> Iterator:
    labels = ["business", "agent", "model", "status"]
    executions = CounterMetricFamily("mc_executions", "Finished executions.", labels=labels)
    tokens = CounterMetricFamily(
        "mc_execution_tokens", "Tokens of finished executions.", labels=[*labels, "type"]
    )
    cost = CounterMetricFamily(
        "mc_execution_cost_usd", "Cost of finished executions, in US dollars.", labels=labels
    )
    duration = HistogramMetricFamily(
        "mc_execution_duration_seconds", "Duration of finished executions.", labels=["business", "agent"]
    )
    per_agent: dict[int, dict] = defaultdict(lambda: defaultdict(int))
    for row in (
        LifetimeRollup.objects.filter(q()).values().order_by("business_id", "agent_id", "model", "status")
    ):
        base = [*agent_labels(row["agent_id"]), row["model"], row["status"]]
        executions.add_metric(base, row["executions"])
        for kind in TOKEN_TYPES:
            tokens.add_metric([*base, kind], row[f"{kind}_tokens"])
        cost.add_metric(base, float(row["cost_e8"] * COST_SCALE))
        totals = per_agent[row["agent_id"]]
        for name in ("duration_ms_sum", "duration_count", *BUCKET_COLUMNS):
            totals[name] += row[name]
    for agent_id, totals in per_agent.items():
        cumulative, buckets = 0, []
        for bound, column in zip(DURATION_BUCKETS_S, BUCKET_COLUMNS, strict=True):
            cumulative += totals[column]
            buckets.append((str(float(bound)), cumulative))
        buckets.append(("+Inf", totals["duration_count"]))
        duration.add_metric(agent_labels(agent_id), buckets, totals["duration_ms_sum"] / 1000)
    yield executions
    yield tokens
    yield cost
    yield duration


def _budgets(q, slugs: dict, agents: dict) -> Iterator:
    labels = ["business", "budget", "agent", "model", "period"]
    used = GaugeMetricFamily(
        "mc_budget_used_ratio", "Spent in the budget's current window over its limit.", labels=labels
    )
    limit = GaugeMetricFamily(
        "mc_budget_limit_usd", "The budget's limit per window, in US dollars.", labels=labels
    )
    budgets = list(Budget.objects.filter(q(), enabled=True).select_related("business"))
    spends = live_spend(budgets) if budgets else {}
    for budget in budgets:
        agent = agents.get(budget.agent_id, (None, ""))[1] if budget.agent_id else ""
        values = [slugs.get(budget.business_id, ""), str(budget.pk), agent, budget.model, budget.period]
        spend = spends[budget.pk]
        ratio = float(spend.spent_usd / spend.limit_usd) if spend.limit_usd else 0.0
        used.add_metric(values, ratio)
        limit.add_metric(values, float(spend.limit_usd))
    yield used
    yield limit


def _cron(q, slugs: dict) -> Iterator:
    labels = ["business", "cron_job"]
    last = GaugeMetricFamily(
        "mc_cron_last_success_timestamp_seconds",
        "When the cron job's last successful run finished.",
        labels=labels,
    )
    failures = GaugeMetricFamily(
        "mc_cron_consecutive_failures", "Failed runs of the cron job in a row.", labels=labels
    )
    enabled = GaugeMetricFamily("mc_cron_enabled", "1 when the cron job is enabled.", labels=labels)
    latest_success = (
        CronRun.objects.filter(cron_job=OuterRef("pk"), status=CronRunStatus.SUCCESS)
        .order_by("-scheduled_for")
        .values("finished_at")[:1]
    )
    rows = (
        CronJob.objects.filter(q())
        .annotate(last_success=Subquery(latest_success))
        .values("business_id", "name", "consecutive_failures", "enabled", "last_success")
    )
    for row in rows:
        values = [slugs.get(row["business_id"], ""), row["name"]]
        failures.add_metric(values, row["consecutive_failures"])
        enabled.add_metric(values, 1 if row["enabled"] else 0)
        if row["last_success"] is not None:
            last.add_metric(values, row["last_success"].timestamp())
    yield last
    yield failures
    yield enabled


def _stops(scope: Scope, slugs: dict) -> Iterator:
    engaged = set(EmergencyStop.objects.active().values_list("business_id", flat=True))
    glob = GaugeMetricFamily("mc_emergency_stop_global", "1 while the global emergency stop is engaged.")
    glob.add_metric([], 1 if None in engaged else 0)
    per = GaugeMetricFamily(
        "mc_emergency_stop_engaged",
        "1 while the business's own emergency stop is engaged.",
        labels=["business"],
    )
    for business_id, slug in sorted(slugs.items(), key=lambda kv: kv[1]):
        per.add_metric([slug], 1 if business_id in engaged else 0)
    yield glob
    yield per
