"""May this work start? Asked by every path that starts work (API, cron, workflows, agent reports).

The answer is an exception with a stable code, or nothing:
- ``423 emergency_stop``: a stop covers the business;
- ``403 restriction_<rule>``: a business or agent policy forbids it (``trigger``, ``model``,
  ``provider``, ``role``; ``max_tokens``/``max_cost`` from :func:`check_usage`);
- ``402 budget_exceeded``: a budget in scope has nothing left.
Nothing is reserved here: ``governance.budgets.reserve`` does that.
"""

import json
from collections import namedtuple
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from governance.access import is_agent, role_in
from governance.budgets import describe, exhausted_budget
from governance.controls import active_stop
from governance.models import Business, ExecutionPolicy
from governance.policies import policies_for
from governance.roles import at_least
from mission_control.display import money
from mission_control.errors import DomainError


def _scope(policy: ExecutionPolicy) -> str:
    return f"agent {policy.agent_id}" if policy.agent_id else "this business"


def _refuse(rule: str, detail: str, policy: ExecutionPolicy, **extra) -> DomainError:
    return DomainError(f"restriction_{rule}", detail, rule=rule, policy=policy.pk, **extra)


def _allowed(value: str, allowed: list) -> bool:
    return not allowed or not value or value.lower() in {str(a).lower() for a in allowed}


def _is_person(actor) -> bool:
    return actor is not None and not isinstance(actor, str) and not is_agent(actor)


def check_can_start(
    *, business: Business, agent, trigger: str, model: str = "", provider: str = "", actor=None
) -> None:
    """Raise if new work of ``agent`` may not start now; see the module docstring for the codes."""
    stop = active_stop(business.pk)
    if stop is not None:
        scope = "globally" if stop.business_id is None else f"for {business.name}"
        raise DomainError(
            "emergency_stop",
            f"The emergency stop is engaged {scope}: no new work starts until it is released.",
            stop=stop.pk,
            reason=stop.reason,
        )
    refusal = policy_refusal(
        business=business,
        policies=policies_for(business_id=business.pk, agent_id=agent.pk),
        trigger=trigger,
        model=model,
        provider=provider,
        actor=actor,
    )
    if refusal is not None:
        raise refusal
    budget = exhausted_budget(business_id=business.pk, agent_id=agent.pk, model=model)
    if budget is not None:
        raise DomainError(
            "budget_exceeded",
            f"{describe(budget)} is exhausted: no new work until its next window or a higher limit.",
            budget=budget.pk,
            limit_usd=str(budget.limit_usd),
        )


def policy_refusal(
    *, business: Business, policies, trigger: str, model: str = "", provider: str = "", actor=None
) -> DomainError | None:
    """The refusal the first of ``policies`` (the business's, then the agent's) gives this work, or
    None. For callers that judge many agents at once from policies they loaded together (routing)."""
    for policy in policies:
        if not _allowed(trigger, policy.allowed_triggers):
            return _refuse(
                "trigger",
                f"The policy of {_scope(policy)} does not allow '{trigger}' runs.",
                policy,
                allowed=policy.allowed_triggers,
            )
        if not _allowed(model, policy.allowed_models):
            return _refuse(
                "model",
                f"The policy of {_scope(policy)} does not allow the model '{model}'.",
                policy,
                allowed=policy.allowed_models,
            )
        if not _allowed(provider, policy.allowed_providers):
            return _refuse(
                "provider",
                f"The policy of {_scope(policy)} does not allow the provider '{provider}'.",
                policy,
                allowed=policy.allowed_providers,
            )
        # Only people are held to a run role; cron, workflows and the agent itself act for the business.
        if policy.min_run_role and _is_person(actor):
            role = role_in(actor, business.pk)
            if not at_least(role, policy.min_run_role):
                return _refuse(
                    "role",
                    f"Only {policy.min_run_role}s and above may run {_scope(policy)}'s work.",
                    policy,
                    required=policy.min_run_role,
                )
    return None


# What :func:`policy_refusal` reads of a policy, loaded as a plain row (no model instance per row).
PolicyRow = namedtuple(
    "PolicyRow",
    "pk agent_id allowed_triggers allowed_models allowed_providers min_run_role max_cost_per_execution_usd",
)


@dataclass(frozen=True)
class PolicyVerdicts:
    """What a business's execution policies say about one piece of work, for all its agents at once."""

    shared: str  # the business-wide refusal, "" when it allows the work: it applies to every agent
    refused: dict[int, str]  # agent id -> its own policy's refusal
    caps: dict[int | None, Decimal]  # max cost per execution by agent id (None: the business's)

    def refusal(self, agent_id: int) -> str:
        return self.shared or self.refused.get(agent_id, "")

    def cost_cap(self, agent_id: int) -> Decimal | None:
        """The agent's policy's cap, else the business's (as ``budgets.policy_cost_cap``)."""
        cap = self.caps.get(agent_id)
        return cap if cap is not None else self.caps.get(None)


def policy_rows_query(*, business_id: int, model: str = "") -> tuple[str, list]:
    """The SQL (and parameters) of the rows :func:`policy_verdicts` judges: the business's execution
    policies that can refuse this work or cap its cost, as plain rows (``PolicyRow``'s fields but the
    providers, with ``allowed_models`` only when a model is asked for, JSON still text). A policy that
    allows every trigger (and model), asks no run role and caps nothing can neither refuse (routing
    knows no provider) nor set an estimate, so it is left in the database: the rows of a thousand
    agents' permissive policies cost more to read and decode than to skip."""
    table = ExecutionPolicy._meta.db_table
    # Without a model the models list allows anything: not read, not decoded.
    models = ", allowed_models" if model else ""
    may_refuse = "allowed_triggers <> '[]' OR min_run_role <> '' OR max_cost_per_execution_usd IS NOT NULL"
    if model:
        may_refuse += " OR allowed_models <> '[]'"
    sql = f"""
        SELECT id, agent_id, allowed_triggers, min_run_role, max_cost_per_execution_usd{models}
        FROM {table} WHERE business_id = %s AND ({may_refuse}) ORDER BY id"""  # noqa: S608 -- names, not input
    return sql, [business_id]


def policy_verdicts(
    *, business: Business, trigger: str, model: str = "", actor=None, rows: list[tuple] | None = None
) -> PolicyVerdicts:
    """:func:`policy_refusal` for every agent of the business at once (routing: no provider known):
    one query (none when the caller read :func:`policy_rows_query`'s ``rows`` itself), plain rows, and
    the business's policy judged once rather than once per agent."""
    if rows is None:
        sql, params = policy_rows_query(business_id=business.pk, model=model)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    policies = [
        PolicyRow(
            pk=pk,
            agent_id=agent_id,
            allowed_triggers=_json(triggers),
            allowed_models=_json(models[0]) if models else [],
            allowed_providers=[],
            min_run_role=role,
            max_cost_per_execution_usd=cap,
        )
        for pk, agent_id, triggers, role, cap, *models in rows
    ]

    def refusal(policies) -> str:
        found = policy_refusal(
            business=business, policies=policies, trigger=trigger, model=model, actor=actor
        )
        return found.detail if found is not None else ""

    return PolicyVerdicts(
        shared=refusal([p for p in policies if p.agent_id is None]),
        refused={p.agent_id: why for p in policies if p.agent_id is not None and (why := refusal([p]))},
        caps={
            p.agent_id: p.max_cost_per_execution_usd
            for p in policies
            if p.max_cost_per_execution_usd is not None
        },
    )


def _json(value):
    """A JSON column as the driver returns it: text (PostgreSQL through Django, SQLite) or decoded."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def check_usage(
    *, business: Business, agent_id: int, total_tokens: int = 0, cost_usd: Decimal | None = None
) -> None:
    """Raise ``403 restriction_max_tokens`` / ``restriction_max_cost`` when a run's usage goes past a
    policy's cap. For callers that watch running work (e.g. to abort it); completed work is still
    recorded by them whatever this says."""
    for policy in policies_for(business_id=business.pk, agent_id=agent_id):
        cap = policy.max_tokens_per_execution
        if cap is not None and total_tokens > cap:
            raise _refuse(
                "max_tokens",
                f"The run used {total_tokens} tokens; the policy of {_scope(policy)} allows {cap}.",
                policy,
                limit=cap,
            )
        cap_usd = policy.max_cost_per_execution_usd
        if cap_usd is not None and cost_usd is not None and Decimal(cost_usd) > cap_usd:
            raise _refuse(
                "max_cost",
                f"The run cost {money(cost_usd)}; the policy of {_scope(policy)} allows {money(cap_usd)}.",
                policy,
                limit_usd=str(cap_usd),
            )
