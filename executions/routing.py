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
:class:`FiguresSource` (``business id, since -> (rows kept, a query of the rest)``, rows of
``(agent id, *AgentFigures)``), and observability installs its own at start-up (``use_figures``), as
it already installs budgets' burn rates in governance. Without one installed (observability not
loaded) the router reads the same figures from the ledger itself. Cron jobs and workflow steps
(``workflows``, below observability) route through this module too, so no caller needs to import
upwards.

Speed. A decision among 1,000 agents reads set-based, plain rows and scores them as arrays
(``routing_pool``): six written-out statements sent in one round trip, no model instance per agent.
Who may take the work is read on every decision; only the figures' closed hours are kept (a minute,
per process). ``python -m bench routing`` times it against the issue's 5 ms.
"""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from agents.models import Agent, DesiredState
from executions.lifecycle import start_execution
from executions.models import Execution, RoutingSettings, Status
from executions.routing_pool import Pool, choose, read_pool, score
from governance import audit
from governance.audit import actor_name
from governance.enforcement import check_can_start
from governance.models import Business
from mission_control.errors import DomainError
from mission_control.events import publish

STORED_CANDIDATES = (
    25  # candidates kept in an execution's ``routing`` (best first); ``considered`` counts all
)
# Starts refused after the decision (a budget or policy changed, the agent stopped) try the next
# agent in score order, at most this many in all: a refusal that holds for every agent (a business
# budget spent) should not walk a thousand of them.
START_ATTEMPTS = 5
# Refusals of one agent that another may not share; anything else (an emergency stop, bad input)
# is raised as it is.
_TRY_NEXT = ("budget_exceeded", "restriction_", "agent_unavailable")


class AgentFigures(NamedTuple):
    """An agent's finished work over the window: counts, cost in 1e-8 USD, summed duration."""

    executions: int = 0
    successes: int = 0
    cost_e8: int = 0
    duration_ms_sum: int = 0
    duration_count: int = 0


# (business id, since) -> (rows kept from earlier reads, the SQL and parameters of the rest). Both
# give rows of (agent id, *AgentFigures), any number per agent (one per model...), which the router
# adds up: the kept ones as a sequence or an array, the SQL (a SELECT of those six columns) run
# inside the decision's own statement every time.
FiguresSource = Callable[[int, datetime], tuple[Sequence, tuple[str, Sequence]]]
_source: FiguresSource | None = None


def use_figures(source: FiguresSource | None) -> None:
    """Install where the router reads agents' recent figures (observability's rollups)."""
    global _source
    _source = source


def ledger_figures(business_id: int, since: datetime) -> tuple[Sequence, tuple[str, Sequence]]:
    """The figures straight from the ledger (all of them live): what the router uses when no
    source is installed."""
    live = (
        Execution.objects.filter(
            business_id=business_id,
            status__in=(Status.SUCCESS, Status.FAILED, Status.ABORTED),
            finished_at__gte=since,
        )
        .order_by()
        .values("agent_id")
        .annotate(
            n=Count("pk"),
            ok=Count("pk", filter=Q(status=Status.SUCCESS)),
            cost=Sum("cost_usd") * Value(10**8),
            dur=Coalesce(Sum("duration_ms"), 0),
            dur_n=Count("duration_ms"),
        )
        .values_list("agent_id", "n", "ok", "cost", "dur", "dur_n")
    )
    return (), live.query.sql_with_params()


def explore_share(business: Business) -> Decimal:
    row = RoutingSettings.objects.filter(business_id=business.pk).order_by().first()
    return row.explore_share if row is not None else Decimal(settings.MC_ROUTING_EXPLORE_SHARE)


@dataclass
class Decision:
    """One routing decision: the candidates scored, the eligible ones in the order to try them
    (indices into ``pool``), and what the execution stores (``routing``)."""

    pool: Pool
    order: list[int]
    routing: dict


def decide(
    *,
    business: Business,
    capability: str,
    trigger: str,
    max_wait_s: float | None = None,
    model: str = "",
    actor=None,
    rng: random.Random | None = None,
) -> Decision:
    """Pick the agent for one piece of work (and those to try after it). Refuses with 409
    ``no_eligible_agent`` and every candidate's reason."""
    now = timezone.now()
    pool, share = read_pool(
        business=business,
        capability=capability,
        trigger=trigger,
        model=model,
        actor=actor,
        figures_source=_source or ledger_figures,
        since=now - timedelta(hours=settings.MC_ROUTING_WINDOW_H),
        now=now,
    )
    share = float(share if share is not None else Decimal(settings.MC_ROUTING_EXPLORE_SHARE))
    score(pool, max_wait_s=max_wait_s, prior_weight=settings.MC_ROUTING_PRIOR_WEIGHT)
    order, reason = choose(pool, share=share, rng=rng or random.Random())
    if not order:
        why = "no agent has it" if not len(pool) else "none of its agents may take it now"
        raise DomainError(
            "no_eligible_agent",
            f"No agent can take '{capability}' work: {why}.",
            capability=capability,
            candidates=[
                {"agent": pool.ids[i], "name": pool.names[i], "reason": pool.excluded[i]}
                for i in pool.listed()
            ],
        )
    routing = {
        "capability": capability,
        "chosen": pool.ids[order[0]],
        "reason": reason,
        "explored": reason.startswith("exploring"),
        "explore_share": share,
        "max_wait_s": max_wait_s,
        "model": model or None,
        "considered": len(pool),
        "candidates": [pool.row(i) for i in pool.listed()[:STORED_CANDIDATES]],
    }
    return Decision(pool=pool, order=order, routing=routing)


def _startable(business: Business, agent_id: int, trigger: str, actor) -> Agent:
    """The chosen agent, read again: one stopped or held since the decision is refused like the
    rest (``agent_unavailable``), unless an emergency stop holds it, which refuses everyone."""
    agent = Agent.objects.filter(pk=agent_id, business_id=business.pk).first()
    if agent is None or agent.desired_state != DesiredState.RUNNING or agent.held_by_emergency_stop:
        if agent is not None and agent.held_by_emergency_stop:
            check_can_start(business=business, agent=agent, trigger=trigger, actor=actor)  # 423 if engaged
        raise DomainError("agent_unavailable", "The agent was stopped since the decision.")
    agent.business = business
    return agent


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
    run...). Refuses 409 ``no_eligible_agent``. A start refused after the decision (a budget taken
    by a concurrent start, a policy or the agent changed) tries the next eligible agent in score
    order, up to ``START_ATTEMPTS`` in all, the refusals recorded in ``routing`` (``refused``, and
    the ``reason``); an emergency stop or bad input is refused at once."""
    decision = decide(
        business=business,
        capability=capability,
        trigger=trigger,
        max_wait_s=max_wait_s,
        model=model,
        actor=actor,
        rng=rng,
    )
    pool, routing, refused = decision.pool, decision.routing, []
    for i in decision.order[:START_ATTEMPTS]:
        if refused:
            _record_fallback(routing, pool, i, refused)
        try:
            execution = start_execution(
                agent=_startable(business, pool.ids[i], trigger, actor),
                trigger=trigger,
                input=input,
                actor=actor,
                routing=routing,
                **start,
            )
        except DomainError as exc:
            if not exc.code.startswith(_TRY_NEXT):
                raise
            refused.append(
                {"agent": pool.ids[i], "name": pool.names[i], "error": exc.code, "detail": exc.detail}
            )
            continue
        publish(
            kind="execution.routed",
            business=business,
            agent_id=pool.ids[i],
            execution_id=execution.pk,
            actor=execution.requested_by or "system",
            message=f"Execution #{execution.pk} ({capability}) routed to {pool.names[i]}: {routing['reason']}"[
                :500
            ],
            data={
                "capability": capability,
                "chosen": pool.ids[i],
                "explored": routing["explored"],
                "refused": len(refused),
            },
        )
        return execution
    why = {r["agent"]: f"refused at start: {r['error']}: {r['detail']}" for r in refused}
    untried = f"not tried: {len(refused)} starts were refused"
    raise DomainError(
        "no_eligible_agent",
        f"No agent can take '{capability}' work: every agent tried refused the start.",
        capability=capability,
        candidates=[
            {
                "agent": pool.ids[i],
                "name": pool.names[i],
                "reason": pool.excluded[i] or why.get(pool.ids[i], untried),
            }
            for i in pool.listed()
        ],
    )


def _record_fallback(routing: dict, pool: Pool, i: int, refused: list[dict]) -> None:
    """Say in ``routing`` that the agents before ``i`` refused the start and ``i`` is next."""
    first = routing.get("first_reason", routing["reason"])
    last = refused[-1]
    routing.update(
        chosen=pool.ids[i],
        explored=False,
        refused=list(refused),
        first_reason=first,
        reason=(
            f"{last['name']} refused the start ({last['error']}: {last['detail']}); "
            f"next in score order: {pool.names[i]} at ${pool.scores[i]:.6f} per success"
            + (f" ({len(refused)} refused in all)" if len(refused) > 1 else "")
        ),
    )


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
