"""Autoscaling's verbs: set an agent's policy, and evaluate it (what the beat sweep does).

Evaluation scales through ``agents.services.scale_agent``, the operator's own verb, so the
autoscaler's changes are ``scale`` commands in the agent's heartbeat answers, audited (actor
``autoscaler``) and published (``agent.scaled``) like anyone's; ``agent.autoscaled`` adds why.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import Agent, DesiredState
from agents.services import scale_agent
from autoscaling import selectors
from autoscaling.models import AUTOSCALER, Action, AutoscaleDecision, AutoscalePolicy
from autoscaling.recommendation import limited, recommend, stabilised
from governance import audit
from governance.audit import actor_name
from governance.budgets import exhausted_budget
from governance.controls import emergency_stop_active
from mission_control.errors import DomainError
from mission_control.events import publish

logger = logging.getLogger(__name__)

POLICY_FIELDS = (
    "enabled",
    "min_replicas",
    "max_replicas",
    "target_pending_per_replica",
    "target_wait_s",
    "scale_up_window_s",
    "scale_down_window_s",
    "max_scale_up_step",
    "max_scale_down_step",
    "cooldown_s",
)


def _invalid(field: str, message: str) -> DomainError:
    return DomainError("validation_error", f"{field}: {message}", fields={field: [message]})


def check_policy(policy: AutoscalePolicy, agent: Agent) -> None:
    if policy.min_replicas < agent.min_scale:
        raise _invalid("min_replicas", f"Must be at least the agent's minimum scale ({agent.min_scale}).")
    if policy.max_replicas > agent.max_scale:
        raise _invalid("max_replicas", f"Must be at most the agent's maximum scale ({agent.max_scale}).")
    if policy.min_replicas > policy.max_replicas:
        raise _invalid("max_replicas", f"Must be at least min_replicas ({policy.min_replicas}).")
    if policy.enabled and not policy.target_pending_per_replica and not policy.target_wait_s:
        raise _invalid(
            "target_pending_per_replica", "An enabled policy needs a target (this or target_wait_s)."
        )


def save_policy(*, agent: Agent, actor=None, **changes) -> AutoscalePolicy:
    """Create or change ``agent``'s policy (only the fields given change). Refuses with 400
    ``validation_error`` naming the field: bounds outside the agent's own ``min_scale..max_scale``,
    min above max, or enabled with no target."""
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise _invalid(sorted(unknown)[0], "Not a policy field.")
    with transaction.atomic():
        locked = (
            Agent.objects.select_for_update(of=("self",), no_key=True)
            .select_related("business")
            .get(pk=agent.pk)
        )
        policy = AutoscalePolicy.objects.filter(agent_id=locked.pk).first()
        created = policy is None
        if created:
            policy = selectors.default_policy(locked)
        before = None if created else {name: getattr(policy, name) for name in POLICY_FIELDS}
        for name, value in changes.items():
            setattr(policy, name, value)
        check_policy(policy, locked)
        policy.updated_by = actor_name(actor)[:150]
        policy.updated_at = timezone.now()
        policy.save()
        after = {name: getattr(policy, name) for name in POLICY_FIELDS}
        audit.record(
            actor=actor,
            action="agent.autoscale_policy",
            business=locked.business,
            target_type="agent",
            target_id=locked.pk,
            before=before,
            after=after,
        )
        state = "enabled" if policy.enabled else "disabled"
        publish(
            kind="agent.updated",
            business=locked.business,
            agent_id=locked.pk,
            actor=actor_name(actor),
            message=f"Autoscaling of {locked.name} {state} ({policy.min_replicas}..{policy.max_replicas} replicas)",
            data={"autoscale": after, "before": before},
        )
    return policy


def period_of(now: datetime) -> int:
    return int(now.timestamp()) // settings.MC_AUTOSCALE_PERIOD_S


def _refusal(agent: Agent, now: datetime) -> tuple[str, str] | None:
    """Why the agent may not get more replicas now, if it may not: (code, words)."""
    if agent.held_by_emergency_stop or emergency_stop_active(agent.business_id):
        return "emergency_stop", "an emergency stop is engaged"
    if agent.desired_state == DesiredState.STOPPED:
        return "stopped", "the agent is stopped"
    if agent.is_offline(now):
        return "offline", "the agent is offline"
    if exhausted_budget(business_id=agent.business_id, agent_id=agent.pk, now=now) is not None:
        return "budget_exhausted", "its budget is exhausted"
    return None


def _decide(policy: AutoscalePolicy, agent: Agent, now: datetime) -> dict:
    """This period's decision for ``agent`` as the fields of an ``AutoscaleDecision``."""
    current = agent.scale
    figures = selectors.figures(agent, now)
    low, high = max(policy.min_replicas, agent.min_scale), min(policy.max_replicas, agent.max_scale)
    rec = recommend(
        current=current,
        figures=figures,
        target_pending_per_replica=policy.target_pending_per_replica,
        target_wait_s=policy.target_wait_s,
        min_replicas=low,
        max_replicas=high,
    )
    longest = max(policy.scale_up_window_s, policy.scale_down_window_s)
    history = selectors.recent_recommendations(agent.pk, now - timedelta(seconds=longest))
    target = stabilised(
        current=current,
        now=now,
        recommendation=rec.replicas,
        history=history,
        scale_up_window_s=policy.scale_up_window_s,
        scale_down_window_s=policy.scale_down_window_s,
    )
    target = limited(
        current=current,
        target=min(max(target, low), high),  # bounds moved since a remembered recommendation
        max_scale_up_step=policy.max_scale_up_step,
        max_scale_down_step=policy.max_scale_down_step,
    )
    row = {
        "recommended": rec.replicas,
        "pending": figures.pending,
        "ready_tasks": figures.ready_tasks,
        "running": figures.running,
        "oldest_wait_s": figures.oldest_wait_s,
        "throughput_per_min": figures.throughput_per_min,
        "replicas_before": current,
        "replicas_after": current,
        "action": Action.HOLD,
        "refusal": "",
    }
    why = rec.why
    if target == current:
        if rec.replicas < current:
            why += f"; the {policy.scale_down_window_s} s scale-down window still wants {current}"
        return {**row, "reason": f"{why}: stays at {current} replica{'s' if current != 1 else ''}"}
    cooldown_since = now - timedelta(seconds=policy.cooldown_s)
    manual = selectors.manual_scale_since(agent.pk, cooldown_since)
    if manual is not None:
        return {
            **row,
            "refusal": "manual_scale",
            "reason": f"{why}: would go {current} → {target}, paused for {policy.cooldown_s} s "
            f"after {manual.requested_by or 'an operator'} scaled by hand",
        }
    change = selectors.last_change(agent.pk)
    if change is not None and change.at > cooldown_since:
        return {
            **row,
            "refusal": "cooldown",
            "reason": f"{why}: would go {current} → {target}, cooling down ({policy.cooldown_s} s since the last change)",
        }
    if target > current and (refused := _refusal(agent, now)) is not None:
        code, words = refused
        return {
            **row,
            "action": Action.REFUSED,
            "refusal": code,
            "reason": f"{why}: wants {current} → {target} replicas, not scaling up: {words}",
        }
    action = Action.SCALE_UP if target > current else Action.SCALE_DOWN
    return {
        **row,
        "action": action,
        "replicas_after": target,
        "reason": f"{why}: {current} → {target} replicas",
    }


def evaluate(*, agent_id: int, now: datetime | None = None) -> AutoscaleDecision | None:
    """Take this period's decision for the agent's enabled policy and carry it out: one transaction.

    None when there is nothing to decide: no enabled policy, or this period's decision is taken
    (another worker holds the policy row or has written the period's row: the unique constraint on
    ``(agent, period)`` makes "one decision per agent per period" true whatever the race).
    """
    now = now or timezone.now()
    period = period_of(now)
    try:
        with transaction.atomic():
            policy = (
                AutoscalePolicy.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("agent", "agent__business")
                .filter(agent_id=agent_id, enabled=True)
                .first()
            )
            if policy is None or AutoscaleDecision.objects.filter(agent_id=agent_id, period=period).exists():
                return None
            agent = policy.agent
            previous = selectors.last_decision(agent.pk)
            fields = _decide(policy, agent, now)
            decision = AutoscaleDecision.objects.create(
                business_id=agent.business_id, agent=agent, period=period, at=now, **fields
            )
            if decision.action in (Action.SCALE_UP, Action.SCALE_DOWN):
                scale_agent(agent=agent, replicas=decision.replicas_after, actor=AUTOSCALER)
                _announce(decision, agent)
            elif decision.action == Action.REFUSED and getattr(previous, "refusal", "") != decision.refusal:
                _announce(decision, agent)  # once when a refusal begins, not every period it lasts
            return decision
    except IntegrityError:
        return None  # the period's row was written by another worker between our check and insert


def _announce(decision: AutoscaleDecision, agent: Agent) -> None:
    publish(
        kind="agent.autoscaled",
        business=agent.business,
        agent_id=agent.pk,
        actor=AUTOSCALER,
        message=f"{agent.name}: {decision.reason}",
        data={
            "decision": decision.pk,
            "action": decision.action,
            "refusal": decision.refusal,
            "replicas_before": decision.replicas_before,
            "replicas_after": decision.replicas_after,
            "recommended": decision.recommended,
            "pending": decision.pending,
            "ready_tasks": decision.ready_tasks,
            "running": decision.running,
            "oldest_wait_s": decision.oldest_wait_s,
        },
    )


PRUNE_BATCH = 10_000  # decision rows one sweep deletes at most: a backlog drains over a few periods


def prune_decisions(*, now: datetime | None = None) -> int:
    """Delete decision rows older than ``MC_AUTOSCALE_KEEP_DAYS`` (at most ``PRUNE_BATCH``): one row
    per agent per period, holds included, would otherwise grow without end. Two sweeps pruning at
    once delete the same rows, harmlessly."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.MC_AUTOSCALE_KEEP_DAYS)
    old = list(
        AutoscaleDecision.objects.filter(at__lt=cutoff)
        .order_by("at")
        .values_list("pk", flat=True)[:PRUNE_BATCH]
    )
    if not old:
        return 0
    deleted, _ = AutoscaleDecision.objects.filter(pk__in=old).delete()
    return deleted


def evaluate_all(*, now: datetime | None = None) -> dict:
    """Evaluate every enabled policy (the beat sweep), then prune old decisions. One agent's
    failure is logged, not fatal."""
    now = now or timezone.now()
    counts = {"decided": 0, "scaled": 0, "skipped": 0, "errors": 0, "pruned": prune_decisions(now=now)}
    for agent_id in (
        AutoscalePolicy.objects.filter(enabled=True).order_by("agent_id").values_list("agent_id", flat=True)
    ):
        try:
            decision = evaluate(agent_id=agent_id, now=now)
        except Exception:
            logger.exception("autoscaling agent %s failed", agent_id)
            counts["errors"] += 1
            continue
        if decision is None:
            counts["skipped"] += 1
            continue
        counts["decided"] += 1
        counts["scaled"] += decision.action in (Action.SCALE_UP, Action.SCALE_DOWN)
    return counts
