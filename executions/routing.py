"""Cost-aware routing: work that names a capability, not an agent, goes to the cheapest agent that
can take it.

The router considers every agent of the business with the capability and excludes, with a reason,
those that may not take the work now: offline, stopped, held by an emergency stop, refused by an
execution policy (trigger, model), short of budget for its estimate, or expected to make the work wait
longer than ``max_wait_s`` (queue ahead × average duration ÷ replicas). Among the rest it picks the
lowest expected cost per successful execution: cost per execution ÷ success rate over the last
``MC_ROUTING_WINDOW_H`` hours, both shrunk towards the fleet's figures by ``MC_ROUTING_PRIOR_WEIGHT``
executions' worth, so an agent with little history is judged mostly as an average one (neither
favoured nor starved). ``explore_share`` of the work (per business) goes to another eligible agent
at random so that the others' figures stay current.

The seam. The figures live in observability's rollups, and observability sits above the ledger
(it imports executions, never the reverse). So the ledger declares what it needs, a
:class:`FiguresSource` (``business id, since -> {agent id: AgentFigures}``), and observability installs its
own at start-up (``use_figures``), as it already installs budgets' burn rates in governance. Without
one installed (observability not loaded) the router reads the same figures from the ledger itself.
Cron jobs and workflow steps (``workflows``, below observability) route through this module too, so
no caller needs to import upwards.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from agents.models import Agent
from executions.lifecycle import start_execution
from executions.models import Execution, RoutingSettings, Status
from governance import audit
from governance.audit import actor_name
from governance.budgets import short_budgets
from governance.controls import active_stop
from governance.enforcement import policy_refusal
from governance.models import Business, ExecutionPolicy
from mission_control.errors import DomainError
from mission_control.events import publish

STORED_CANDIDATES = (
    25  # candidates kept in an execution's ``routing`` (best first); ``considered`` counts all
)


@dataclass(frozen=True)
class AgentFigures:
    executions: int = 0
    successes: int = 0
    cost_usd: Decimal = Decimal(0)
    duration_ms_sum: int = 0
    duration_count: int = 0


FiguresSource = Callable[[int, datetime], dict[int, AgentFigures]]  # (business id, since)
_source: FiguresSource | None = None


def use_figures(source: FiguresSource | None) -> None:
    """Install where the router reads agents' recent figures (observability's rollups)."""
    global _source
    _source = source


def ledger_figures(business_id: int, since: datetime) -> dict[int, AgentFigures]:
    """The figures straight from the ledger: what the router uses when no source is installed."""
    rows = (
        Execution.objects.filter(
            business_id=business_id,
            status__in=(Status.SUCCESS, Status.FAILED, Status.ABORTED),
            finished_at__gte=since,
        )
        .values("agent_id")
        .annotate(
            n=Count("pk"),
            ok=Count("pk", filter=Q(status=Status.SUCCESS)),
            cost=Sum("cost_usd"),
            dur=Sum("duration_ms"),
            dur_n=Count("duration_ms"),
        )
    )
    return {
        r["agent_id"]: AgentFigures(r["n"], r["ok"], r["cost"] or Decimal(0), r["dur"] or 0, r["dur_n"])
        for r in rows
    }


@dataclass
class Candidate:
    agent: Agent
    figures: AgentFigures
    queue_ahead: int
    excluded: str = ""
    estimate_usd: Decimal = Decimal(0)
    cost_usd: float = 0.0  # expected cost per execution, shrunk
    success_rate: float = 1.0  # shrunk
    expected_wait_s: float = 0.0
    score: float | None = None  # expected cost per successful execution

    def as_dict(self) -> dict:
        return {
            "agent": self.agent.pk,
            "name": self.agent.name,
            "score": None if self.score is None else round(self.score, 8),
            "cost_per_execution_usd": round(self.cost_usd, 8),
            "success_rate": round(self.success_rate, 4),
            "executions": self.figures.executions,
            "queue_ahead": self.queue_ahead,
            "replicas": self.agent.scale,
            "expected_wait_s": round(self.expected_wait_s, 1),
            "excluded": self.excluded or None,
        }


def explore_share(business: Business) -> Decimal:
    row = RoutingSettings.objects.filter(business_id=business.pk).first()
    return row.explore_share if row is not None else Decimal(settings.MC_ROUTING_EXPLORE_SHARE)


def _exclusion(agent: Agent, now: datetime) -> str:
    if agent.held_by_emergency_stop:
        return "held by an emergency stop"
    if agent.desired_state != "running":
        return "stopped"
    if agent.is_offline(now):
        return "offline"
    return ""


def score(candidates: list[Candidate], *, max_wait_s: float | None, prior_weight: int) -> None:
    """Fill each candidate's expected cost, success rate, wait and score (pure: no queries).
    Agents' figures are blended with the fleet's (all candidates') by ``prior_weight`` executions."""
    runs = sum(c.figures.executions for c in candidates)
    fleet_cost = float(sum(c.figures.cost_usd for c in candidates)) / runs if runs else None
    fleet_success = (sum(c.figures.successes for c in candidates) + 1) / (runs + 2)  # Laplace: no data, 0.5
    timed = sum(c.figures.duration_count for c in candidates)
    fleet_duration_s = sum(c.figures.duration_ms_sum for c in candidates) / timed / 1000 if timed else 0.0
    k = prior_weight
    for c in candidates:
        f = c.figures
        prior_cost = fleet_cost if fleet_cost is not None else float(c.estimate_usd)
        c.cost_usd = (float(f.cost_usd) + k * prior_cost) / (f.executions + k)
        c.success_rate = (f.successes + k * fleet_success) / (f.executions + k)
        duration_s = (f.duration_ms_sum / 1000 + k * fleet_duration_s) / (f.duration_count + k)
        c.expected_wait_s = c.queue_ahead * duration_s / max(c.agent.scale, 1)
        if c.excluded:
            continue
        if max_wait_s is not None and c.expected_wait_s > max_wait_s:
            c.excluded = f"expected wait {c.expected_wait_s:.0f} s > max_wait_s {max_wait_s:g}"
            continue
        c.score = c.cost_usd / max(c.success_rate, 0.01)


def choose(candidates: list[Candidate], *, share: float, rng: random.Random) -> tuple[Candidate | None, str]:
    """The cheapest eligible candidate per successful execution (ties: shorter wait, then lower id),
    or, with probability ``share``, another eligible one at random."""
    eligible = sorted(
        (c for c in candidates if c.score is not None), key=lambda c: (c.score, c.expected_wait_s, c.agent.pk)
    )
    if not eligible:
        return None, ""
    best = eligible[0]
    if len(eligible) > 1 and share > 0 and rng.random() < share:
        pick = rng.choice(eligible[1:])
        return pick, (
            f"exploring ({share:.0%} of routed work): {pick.agent.name} instead of the cheapest, "
            f"{best.agent.name} (${best.score:.6f} per success)"
        )
    runner = f"; next {eligible[1].agent.name} at ${eligible[1].score:.6f}" if len(eligible) > 1 else ""
    return best, (
        f"cheapest per successful execution: {best.agent.name} at ${best.score:.6f} "
        f"(${best.cost_usd:.6f} per run, {best.success_rate:.0%} success, ~{best.expected_wait_s:.0f} s wait)"
        f"{runner}"
    )


def candidates_for(
    *,
    business: Business,
    capability: str,
    trigger: str,
    model: str = "",
    actor=None,
    now: datetime | None = None,
) -> list[Candidate]:
    """Every agent of the business with ``capability``, each with its figures and, if it may not take
    the work, why. A fixed number of queries whatever the number of agents."""
    now = now or timezone.now()
    agents = list(Agent.objects.filter(business_id=business.pk).with_capability(capability).order_by("id"))
    ids = [a.pk for a in agents]
    source = _source or ledger_figures
    # Scoped by business, not by a list of ids: a thousand-id IN list costs more to build than to run.
    figures = source(business.pk, now - timedelta(hours=settings.MC_ROUTING_WINDOW_H)) if ids else {}
    queues = dict(
        Execution.objects.filter(business_id=business.pk, status=Status.PENDING)
        .values("agent_id")
        .annotate(n=Count("pk"))
        .values_list("agent_id", "n")
    )
    stop = active_stop(business.pk)
    policies = list(ExecutionPolicy.objects.filter(business_id=business.pk))
    shared = [p for p in policies if p.agent_id is None]
    result = []
    for agent in agents:
        c = Candidate(
            agent=agent, figures=figures.get(agent.pk, AgentFigures()), queue_ahead=queues.get(agent.pk, 0)
        )
        own = [p for p in policies if p.agent_id == agent.pk]
        cap = next(
            (p.max_cost_per_execution_usd for p in own + shared if p.max_cost_per_execution_usd is not None),
            None,
        )
        f = c.figures
        typical = f.cost_usd / f.executions if f.executions else Decimal(0)
        c.estimate_usd = cap if cap is not None else agent.max_cost_per_execution_usd or typical
        if stop is not None:
            c.excluded = "an emergency stop is engaged"
        elif refusal := policy_refusal(
            business=business, policies=shared + own, trigger=trigger, model=model, actor=actor
        ):
            c.excluded = f"policy: {refusal.detail}"
        else:
            c.excluded = _exclusion(agent, now)
        result.append(c)
    short = short_budgets(
        business=business,
        estimates={c.agent.pk: c.estimate_usd for c in result if not c.excluded},
        model=model,
        now=now,
    )
    for c in result:
        if c.agent.pk in short:
            c.excluded = f"budget: {short[c.agent.pk]}"
    return result


def decide(
    *,
    business: Business,
    capability: str,
    trigger: str,
    max_wait_s: float | None = None,
    model: str = "",
    actor=None,
    rng: random.Random | None = None,
) -> tuple[Candidate, dict]:
    """Pick the agent for one piece of work: ``(candidate, routing)`` where ``routing`` is what the
    execution stores. Refuses with 409 ``no_eligible_agent`` and every candidate's reason."""
    candidates = candidates_for(
        business=business, capability=capability, trigger=trigger, model=model, actor=actor
    )
    score(candidates, max_wait_s=max_wait_s, prior_weight=settings.MC_ROUTING_PRIOR_WEIGHT)
    share = float(explore_share(business))
    chosen, reason = choose(candidates, share=share, rng=rng or random.Random())
    listed = sorted(candidates, key=lambda c: (c.score is None, c.score or 0, c.agent.pk))
    if chosen is None:
        why = "no agent has it" if not candidates else "none of its agents may take it now"
        raise DomainError(
            "no_eligible_agent",
            f"No agent can take '{capability}' work: {why}.",
            capability=capability,
            candidates=[{"agent": c.agent.pk, "name": c.agent.name, "reason": c.excluded} for c in listed],
        )
    routing = {
        "capability": capability,
        "chosen": chosen.agent.pk,
        "reason": reason,
        "explored": reason.startswith("exploring"),
        "explore_share": share,
        "max_wait_s": max_wait_s,
        "model": model or None,
        "considered": len(candidates),
        "candidates": [c.as_dict() for c in listed[:STORED_CANDIDATES]],
    }
    return chosen, routing


def route_execution(
    *,
    business: Business,
    capability: str,
    trigger: str,
    input: dict | None = None,
    actor=None,
    max_wait_s: float | None = None,
    model: str = "",
    rng: random.Random | None = None,
    **start,
) -> Execution:
    """Start work on the agent :func:`decide` picks, the decision stored with the execution and
    published (``execution.routed``). ``start`` goes on to ``start_execution`` (cron job, workflow
    run...). Refuses 409 ``no_eligible_agent``; a start refused after the decision (a budget taken
    by a concurrent start) is refused as it would have been had the agent been named."""
    chosen, routing = decide(
        business=business,
        capability=capability,
        trigger=trigger,
        max_wait_s=max_wait_s,
        model=model,
        actor=actor,
        rng=rng,
    )
    execution = start_execution(
        agent=chosen.agent, trigger=trigger, input=input, actor=actor, routing=routing, **start
    )
    publish(
        kind="execution.routed",
        business=business,
        agent_id=chosen.agent.pk,
        execution_id=execution.pk,
        actor=execution.requested_by or "system",
        message=f"Execution #{execution.pk} ({capability}) routed to {chosen.agent.name}: {routing['reason']}"[
            :500
        ],
        data={"capability": capability, "chosen": chosen.agent.pk, "explored": routing["explored"]},
    )
    return execution


def set_explore_share(*, business: Business, explore_share: Decimal, actor=None) -> RoutingSettings:
    """Set the business's exploration share (0 to 0.5; 0 turns exploration off): audited, published.
    Refuses 400 ``validation_error`` outside that range."""
    share = Decimal(str(explore_share))
    if not Decimal(0) <= share <= Decimal("0.5"):
        raise DomainError(
            "validation_error",
            "explore_share: between 0 and 0.5.",
            fields={"explore_share": ["Between 0 and 0.5 (0: no exploration)."]},
        )
    with transaction.atomic():
        row = RoutingSettings.objects.select_for_update().filter(business_id=business.pk).first()
        before = None if row is None else {"explore_share": str(row.explore_share)}
        row = row or RoutingSettings(business=business)
        row.explore_share = share
        row.updated_by = actor_name(actor)[:150]
        row.updated_at = timezone.now()
        row.save()
        after = {"explore_share": str(share)}
        audit.record(
            actor=actor,
            action="routing.settings",
            business=business,
            target_type="business",
            target_id=business.pk,
            before=before,
            after=after,
        )
        publish(
            kind="policy.changed",
            business=business,
            actor=actor_name(actor),
            message=f"Routing of {business.name}: {share:.1%} of routed work explores",
            data={"routing": after, "before": before},
        )
    return row
