"""Execution policies: reads (cached where hot) and the admin/API actions that change them."""

from decimal import Decimal

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from governance import audit
from governance.audit import actor_name
from governance.models import POLICY_EXISTS, Business, ExecutionPolicy
from mission_control.errors import DomainError
from mission_control.events import publish
from mission_control.redis_outage import CACHE

FIELDS = [
    "allowed_triggers",
    "allowed_models",
    "allowed_providers",
    "max_tokens_per_execution",
    "max_cost_per_execution_usd",
    "min_run_role",
    "rate_limit",
]
RATE_CACHE_S = 60


def policies_for(*, business_id: int, agent_id: int | None) -> list[ExecutionPolicy]:
    """The business-wide policy and the agent's own, business first (one query)."""
    who = Q(agent_id__isnull=True)
    if agent_id:
        who |= Q(agent_id=agent_id)
    rows = list(ExecutionPolicy.objects.filter(business_id=business_id).filter(who))
    return sorted(rows, key=lambda p: p.agent_id is not None)


def _rate_key(agent_id: int) -> str:
    return f"gov:agent-rate:{agent_id}"


def agent_rate(agent_id: int, business_id: int) -> str:
    """The agent's own request rate (``""``: the default), cached so throttling costs no query."""
    key = _rate_key(agent_id)
    rate = CACHE.or_default("agent rates", lambda: cache.get(key), None)
    if rate is None:
        rows = {
            p.agent_id: p.rate_limit
            for p in policies_for(business_id=business_id, agent_id=agent_id)
            if p.rate_limit
        }
        rate = rows.get(agent_id) or rows.get(None) or ""
        CACHE.or_default("agent rates", lambda: cache.set(key, rate, RATE_CACHE_S), None)
    return rate


def forget_rates(policy: ExecutionPolicy) -> None:
    """Drop cached rates after a change. A business-wide change may touch any agent: those expire."""
    if policy.agent_id:
        CACHE.or_default("agent rates", lambda: cache.delete(_rate_key(policy.agent_id)), None)


def snapshot(policy: ExecutionPolicy) -> dict:
    data = {name: getattr(policy, name) for name in FIELDS}
    if data["max_cost_per_execution_usd"] is not None:
        data["max_cost_per_execution_usd"] = f"{Decimal(data['max_cost_per_execution_usd']):.6f}"
    return data


@transaction.atomic
def create_policy(*, business: Business, agent_id: int | None, actor, **fields) -> ExecutionPolicy:
    """Create the business's (``agent_id`` None) or an agent's policy. One of each: else 409."""
    try:
        with transaction.atomic():
            policy = ExecutionPolicy.objects.create(business=business, agent_id=agent_id, **fields)
    except IntegrityError:
        raise DomainError("policy_exists", POLICY_EXISTS) from None
    record_policy_change(policy, actor, "policy.create", None)
    return policy


@transaction.atomic
def update_policy(*, policy: ExecutionPolicy, actor, **fields) -> ExecutionPolicy:
    policy = ExecutionPolicy.objects.select_for_update().get(pk=policy.pk)
    before = snapshot(policy)
    for name, value in fields.items():
        setattr(policy, name, value)
    policy.updated_at = timezone.now()
    policy.save()
    record_policy_change(policy, actor, "policy.update", before)
    return policy


@transaction.atomic
def delete_policy(*, policy: ExecutionPolicy, actor) -> None:
    before = snapshot(policy)
    policy.delete()
    audit.record(
        actor=actor,
        action="policy.delete",
        business=policy.business,
        target_type="policy",
        target_id=policy.agent_id or "business",
        before=before,
    )
    forget_rates(policy)


def record_policy_change(policy: ExecutionPolicy, actor, action: str, before: dict | None) -> None:
    """Audit and publish a policy change, and drop the cached rates (inside the service that made it)."""
    after = snapshot(policy)
    audit.record(
        actor=actor,
        action=action,
        business=policy.business,
        target_type="policy",
        target_id=policy.agent_id or "business",
        before=before,
        after=after,
    )
    publish(
        kind="policy.changed",
        business=policy.business,
        agent_id=policy.agent_id,
        actor=actor_name(actor),
        message=f"Execution policy for {'agent ' + str(policy.agent_id) if policy.agent_id else 'every agent'} changed",
        data={"before": before, "after": after},
    )
    # Now, and again after commit in case a request re-cached the old rate in between.
    forget_rates(policy)
    transaction.on_commit(lambda: forget_rates(policy))
