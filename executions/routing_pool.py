"""The candidates of one routing decision: read set-based, scored column by column.

A decision among a thousand agents has a budget of a few milliseconds (issue 17), so nothing here
is per agent: six statements sent in one round trip (``mission_control.read_together``), each a plain
scan of one table returning plain rows (no model instances), joined by agent id in numpy, and the
scoring as array arithmetic over every candidate at once. Who may take the work (online, desired running,
not held, no emergency stop, policies, budget headroom) is read from the database on every
decision; only the figures (cost, success, duration) may come from the observability source's
short-lived sums (``observability/routing_figures.py``).
"""

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import chain

import numpy as np
from django.db import connection

from agents.models import Agent, DesiredState
from executions.models import Execution, RoutingSettings, Status
from governance.budgets import budget_rows_query, short_budgets
from governance.enforcement import policy_rows_query, policy_verdicts
from governance.models import Business, EmergencyStop
from mission_control.read_together import read_together

# Why an agent may not take work, decided in the query that lists the candidates (0: it may).
_UNAVAILABLE = ("", "held by an emergency stop", "stopped", "offline")
# The columns of a figures source's rows after the agent id (``executions.routing.AgentFigures``).
_FIGURES = ("executions", "successes", "cost_e8", "duration_ms_sum", "duration_count")


@dataclass
class Pool:
    """Every agent of the business with the capability, in id order, one list or array per field."""

    ids: Sequence[int]
    names: Sequence[str]
    replicas: np.ndarray
    queue: np.ndarray  # pending executions of the agent (the queue ahead of new work)
    figures: np.ndarray  # rows of AgentFigures (executions, successes, cost_e8, duration ms, timed)
    excluded: list[str]  # "" for an agent that may take the work
    estimates: np.ndarray | None = None  # micro-dollars each would hold when it starts
    # Filled by :func:`score`.
    cost: np.ndarray | None = None  # expected cost per execution (USD), shrunk towards the fleet
    success: np.ndarray | None = None  # success rate, shrunk
    wait: np.ndarray | None = None  # expected wait in seconds
    scores: np.ndarray | None = None  # expected cost per successful execution; NaN when excluded
    ranked: np.ndarray | None = None  # indices of the eligible, best first (score, wait, id)

    def __len__(self) -> int:
        return len(self.ids)

    def eligible(self) -> np.ndarray:
        """Indices of the candidates that may take the work, best first (score, wait, id)."""
        return self.ranked

    def listed(self) -> np.ndarray:
        """Every index, eligible ones best first, then the excluded in id order."""
        ok = self.eligible()
        return np.concatenate([ok, np.flatnonzero(np.isnan(self.scores))])

    def row(self, i: int) -> dict:
        """What an execution's ``routing`` keeps of candidate ``i``."""
        score = self.scores[i]
        return {
            "agent": self.ids[i],
            "name": self.names[i],
            "score": None if np.isnan(score) else round(float(score), 8),
            "cost_per_execution_usd": round(float(self.cost[i]), 8),
            "success_rate": round(float(self.success[i]), 4),
            "executions": int(self.figures[i, 0]),
            "queue_ahead": int(self.queue[i]),
            "replicas": int(self.replicas[i]),
            "expected_wait_s": round(float(self.wait[i]), 1),
            "excluded": self.excluded[i] or None,
        }


def read_pool(
    *,
    business: Business,
    capability: str,
    trigger: str,
    model: str,
    actor,
    figures_source,
    since: datetime,
    now: datetime,
) -> tuple[Pool, Decimal | None]:
    """Every agent of ``business`` with ``capability``, with its figures, queue and, if it may not
    take the work now, why; and the business's exploration share (None: not set). Six statements
    sent together (one round trip on PostgreSQL) whatever the number of agents, each a plain read of
    one table: the candidates, their queues, their live figures (the source's SQL), the routing
    settings and whether an emergency stop covers the business, the policies that may refuse or cap,
    the budgets. Joined here by agent id rather than in the database: a join of grouped reads is at
    the planner's mercy (on fresh statistics it re-ran an aggregate per agent, 500 ms), and joining
    materialized CTEs cost more server time (~1 ms) than numpy's ``searchsorted`` costs here."""
    kept, (live_sql, live_params) = figures_source(business.pk, since)
    agents, queues, live, settings_row, policies, budgets = read_together(
        [
            _candidates_query(business.pk, capability, now),
            _queues_query(business.pk),
            (live_sql, live_params),
            _settings_query(business.pk),
            policy_rows_query(business_id=business.pk, model=model),
            budget_rows_query(business_id=business.pk, model=model, now=now),
        ]
    )
    share, stopped = settings_row[0]
    if not agents:
        return Pool([], [], np.zeros(0), np.zeros(0), np.zeros((0, 5)), []), share
    ids, names, replicas, declared, unavailable = zip(*agents, strict=True)
    at = np.array(ids, dtype=np.int64)
    figures = np.zeros((len(ids), 5))
    _add_by_agent(figures, at, kept)
    _add_by_agent(figures, at, live)
    queue = np.zeros((len(ids), 1))
    _add_by_agent(queue, at, queues, one_per_agent=True)  # GROUP BY agent_id
    pool = Pool(
        ids=ids,
        names=names,
        replicas=np.array(replicas, dtype=float),
        queue=queue[:, 0],
        figures=figures,
        excluded=[""] * len(ids),
    )
    if stopped:
        pool.excluded = ["an emergency stop is engaged"] * len(ids)
        return pool, share
    excluded = pool.excluded
    for n in np.flatnonzero(unavailable):
        excluded[n] = _UNAVAILABLE[unavailable[n]]
    verdicts = policy_verdicts(business=business, trigger=trigger, model=model, actor=actor, rows=policies)
    index = dict(zip(ids, range(len(ids)), strict=True))  # agent id -> its position
    if verdicts.shared:
        excluded[:] = [f"policy: {verdicts.shared}"] * len(ids)
    else:
        for agent_id, why in verdicts.refused.items():
            if (n := index.get(agent_id)) is not None:
                excluded[n] = f"policy: {why}"
    pool.estimates = _estimates(pool, declared, verdicts, index)
    open_ = np.flatnonzero(np.array([not why for why in excluded], dtype=bool))
    short = short_budgets(
        business=business,
        agent_ids=at[open_].tolist(),
        estimates=pool.estimates[open_],
        model=model,
        now=now,
        rows=budgets,
    )
    for agent_id, why in short.items():
        excluded[index[agent_id]] = f"budget: {why}"
    return pool, share


def _candidates_query(business_id: int, capability: str, now: datetime) -> tuple[str, list]:
    """The agents of the business with ``capability`` in id order: id, name, replicas, declared
    maximum cost per execution (in micro-dollars: it has six decimal places, so exact), and why it
    may not take work (an index into ``_UNAVAILABLE``). Written out, not built by the ORM: compiling
    the queryset cost more than running it. The rules are the model's: ``AgentQuerySet.offline`` (no
    heartbeat, or ``offline_after`` passed) and ``with_capability`` (JSON containment)."""
    if connection.vendor == "postgresql":
        has_it, wanted = "capabilities @> %s::jsonb", json.dumps([capability])
    else:  # SQLite: no containment operator (as AgentQuerySet.with_capability)
        has_it, wanted = "EXISTS (SELECT 1 FROM json_each(capabilities) WHERE value = %s)", capability
    sql = f"""
        SELECT id, name, scale, CAST(ROUND(max_cost_per_execution_usd * 1000000) AS bigint),
               CASE WHEN held_by_emergency_stop THEN 1 WHEN desired_state <> %s THEN 2
                    WHEN offline_after IS NULL OR offline_after < %s THEN 3 ELSE 0 END
        FROM {Agent._meta.db_table} WHERE business_id = %s AND {has_it} ORDER BY id"""  # noqa: S608 -- names, not input
    at = connection.ops.adapt_datetimefield_value(now)
    return sql, [DesiredState.RUNNING, at, business_id, wanted]


def _queues_query(business_id: int) -> tuple[str, list]:
    """Pending executions per agent of the business: scoped by business, not by a list of ids (a
    thousand-id IN list costs more to build than to run)."""
    sql = f"""
        SELECT agent_id, COUNT(*) FROM {Execution._meta.db_table}
        WHERE business_id = %s AND status = %s GROUP BY agent_id"""  # noqa: S608 -- names, not input
    return sql, [business_id, Status.PENDING]


def _settings_query(business_id: int) -> tuple[str, list]:
    """The business's exploration share (NULL: not set) and whether an emergency stop covers it. The
    stop rule is ``EmergencyStop.objects.active().covering(business)``: not released, its own or
    global."""
    sql = f"""
        SELECT (SELECT explore_share FROM {RoutingSettings._meta.db_table} WHERE business_id = %s),
               EXISTS (SELECT 1 FROM {EmergencyStop._meta.db_table}
                       WHERE released_at IS NULL AND (business_id = %s OR business_id IS NULL))"""  # noqa: S608
    return sql, [business_id, business_id]


def _add_by_agent(into: np.ndarray, ids: np.ndarray, rows, *, one_per_agent: bool = False) -> None:
    """Add ``rows`` of (agent id, value, ...) (tuples or an array) into the row of ``into`` of their
    agent (``ids`` ascending); an agent may have several rows (one per model), none, or not be a
    candidate. ``one_per_agent``: the rows are grouped by agent (a plain indexed add, not ``add.at``)."""
    if len(rows) == 0:
        return
    if isinstance(rows, np.ndarray):
        values = rows.astype(float, copy=False)
    else:  # the driver's tuples, in one flat pass: np.asarray of a list of tuples costs twice as much
        width = len(rows[0])
        values = np.fromiter(chain.from_iterable(rows), dtype=float, count=len(rows) * width)
        values = values.reshape(-1, width)
    agent = values[:, 0].astype(np.int64)
    at = np.minimum(np.searchsorted(ids, agent), len(ids) - 1)
    known = ids[at] == agent
    if one_per_agent:
        into[at[known]] += values[known, 1:]
    else:
        np.add.at(into, at[known], values[known, 1:])


def _estimates(pool: Pool, declared: list, verdicts, index: dict[int, int]) -> np.ndarray:
    """What each agent's start would hold, in micro-dollars: the policy's cap, else the agent's
    declared maximum per execution (``declared``, micro-dollars or None), else its mean cost per run
    over the window (the start itself holds ``executions.estimates.estimate_for``; a start refused
    for it tries the next agent). ``index``: agent id -> position in the pool."""
    runs, costs = pool.figures[:, 0], pool.figures[:, 2]
    result = np.divide(costs, runs * 100, out=np.zeros_like(costs), where=runs > 0).round().astype(np.int64)
    own = np.array(declared, dtype=float)  # None: NaN
    has = ~np.isnan(own)
    result[has] = own[has].astype(np.int64)
    if verdicts.caps.get(None) is not None:
        result[:] = _micro(verdicts.caps[None])
    for agent_id, cap in verdicts.caps.items():
        if agent_id is not None and (n := index.get(agent_id)) is not None:
            result[n] = _micro(cap)
    return result


def _micro(amount) -> int:
    return int(Decimal(str(amount)) * 1_000_000)


def score(pool: Pool, *, max_wait_s: float | None, prior_weight: int) -> None:
    """Fill each candidate's expected cost, success rate, wait and score (pure: no queries).
    Agents' figures are blended with the fleet's (all candidates') by ``prior_weight`` executions."""
    n, ok, cost_e8, duration_ms, timed = pool.figures.T
    runs = n.sum()
    k = prior_weight
    if runs:
        prior_cost = cost_e8.sum() / 1e8 / runs
    else:  # no history anywhere: what each would hold
        prior_cost = (pool.estimates if pool.estimates is not None else np.zeros(len(pool))) / 1e6
    fleet_success = (ok.sum() + 1) / (runs + 2)  # Laplace: no data, 0.5
    fleet_duration_s = duration_ms.sum() / timed.sum() / 1000 if timed.sum() else 0.0
    pool.cost = (cost_e8 / 1e8 + k * prior_cost) / np.maximum(n + k, 1)
    pool.success = (ok + k * fleet_success) / np.maximum(n + k, 1)
    duration_s = (duration_ms / 1000 + k * fleet_duration_s) / np.maximum(timed + k, 1)
    pool.wait = pool.queue * duration_s / np.maximum(pool.replicas, 1)
    allowed = np.array([not why for why in pool.excluded], dtype=bool)
    if max_wait_s is not None:
        for i in np.flatnonzero(allowed & (pool.wait > max_wait_s)):
            pool.excluded[i] = f"expected wait {pool.wait[i]:.0f} s > max_wait_s {max_wait_s:g}"
            allowed[i] = False
    pool.scores = np.where(allowed, pool.cost / np.maximum(pool.success, 0.01), np.nan)
    ok = np.flatnonzero(~np.isnan(pool.scores))
    pool.ranked = ok[np.lexsort((ok, pool.wait[ok], pool.scores[ok]))]  # ids ascend with the index


def choose(pool: Pool, *, share: float, rng: random.Random) -> tuple[list[int], str]:
    """The eligible candidates in the order to try them, and why the first: the cheapest per
    successful execution (ties: shorter wait, then lower id) or, with probability ``share``,
    another eligible one at random, the cheapest next."""
    order = pool.eligible().tolist()
    if not order:
        return [], ""
    best = order[0]
    if len(order) > 1 and share > 0 and rng.random() < share:
        pick = rng.choice(order[1:])
        order.remove(pick)
        return [pick, *order], (
            f"exploring ({share:.0%} of routed work): {pool.names[pick]} instead of the cheapest, "
            f"{pool.names[best]} (${pool.scores[best]:.6f} per success)"
        )
    runner = f"; next {pool.names[order[1]]} at ${pool.scores[order[1]]:.6f}" if len(order) > 1 else ""
    return order, (
        f"cheapest per successful execution: {pool.names[best]} at ${pool.scores[best]:.6f} "
        f"(${pool.cost[best]:.6f} per run, {pool.success[best]:.0%} success, ~{pool.wait[best]:.0f} s wait)"
        f"{runner}"
    )
