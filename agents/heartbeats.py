"""Heartbeats and presence: the hottest endpoint and the sweep that notices silence.

A heartbeat costs a fixed handful of queries whatever the fleet size: the key lookup (which
brings the agent row with it), at most one conditional UPDATE of that row, one read of the
agent's pending commands (and one UPDATE the first time they are delivered) and the governance
flags. ``agent.online`` / ``agent.offline`` are published exactly once per transition because
each is guarded by a conditional UPDATE on ``offline_since``.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from agents.models import Agent, AgentCommand
from governance.controls import heartbeat_flags
from mission_control.events import publish

logger = logging.getLogger(__name__)

# Rewriting last_heartbeat on every beat turns a fleet's heartbeats (every replica of a scaled
# agent beats on the same row) into a stream of row writes, WAL and lock waits. Presence only
# needs last_heartbeat to within a fraction of the timeout, so an unchanged beat is written at
# most this often; anything the agent reports differently is written at once.
HEARTBEAT_WRITE_INTERVAL = timedelta(seconds=5)
# A bounded answer keeps the heartbeat's cost fixed even if an agent never acknowledges.
MAX_COMMANDS_PER_BEAT = 50
# The sweep handles at most this many transitions per run; the next run takes the rest.
SWEEP_BATCH = 500


def write_interval(agent: Agent) -> timedelta:
    # Never so coarse that a skipped write could make a beating agent look offline.
    return min(HEARTBEAT_WRITE_INTERVAL, timedelta(seconds=agent.heartbeat_timeout_s / 5))


def suggested_interval_s(agent: Agent) -> int:
    """How often the agent should beat: three beats per timeout tolerates two lost ones."""
    return max(1, agent.heartbeat_timeout_s // 3)


def record_heartbeat(
    *,
    agent: Agent,
    status: str,
    version: str | None = None,
    runtime_location: str | None = None,
    capabilities: list[str] | None = None,
    running: list[int] | None = None,
    now=None,
) -> dict:
    """Record what the agent reports and answer what it should do.

    ``agent`` is the row loaded with the key (fresh for this request). Fields left out (None)
    keep their stored value.
    """
    now = now or timezone.now()
    reported = {
        "status": status,
        "version": version,
        "runtime_location": runtime_location,
        "capabilities": capabilities,
        "running_executions": running,
    }
    changes = {
        name: value for name, value in reported.items() if value is not None and getattr(agent, name) != value
    }
    stale = agent.last_heartbeat is None or now - agent.last_heartbeat >= write_interval(agent)
    if changes or stale:
        changes["last_heartbeat"] = now
        changes["offline_after"] = agent.expected_by(now)
        Agent.objects.filter(pk=agent.pk).update(**changes)
        for name, value in changes.items():
            setattr(agent, name, value)
    if agent.offline_since is not None:
        mark_online(agent=agent, now=now)

    commands = list(AgentCommand.objects.pending().filter(agent_id=agent.pk)[:MAX_COMMANDS_PER_BEAT])
    undelivered = [c.pk for c in commands if c.delivered_at is None]
    if undelivered:
        AgentCommand.objects.filter(pk__in=undelivered, delivered_at__isnull=True).update(delivered_at=now)
    flags = heartbeat_flags(business_id=agent.business_id, agent_id=agent.pk)
    return {
        "desired_state": agent.desired_state,
        "scale": agent.scale,
        "commands": [c.as_message() for c in commands],
        "emergency_stop": bool(flags.get("emergency_stop")),
        "budget_exhausted": bool(flags.get("budget_exhausted")),
        "heartbeat_interval_s": suggested_interval_s(agent),
        "server_time": now.isoformat(),
    }


def mark_online(*, agent: Agent, now=None) -> bool:
    """Clear ``offline_since`` and publish ``agent.online``, once, whoever gets there first."""
    now = now or timezone.now()
    with transaction.atomic():
        flipped = Agent.objects.filter(pk=agent.pk, offline_since__isnull=False).update(offline_since=None)
        if not flipped:
            return False
        was_offline_since = agent.offline_since
        agent.offline_since = None
        seen_before = was_offline_since is not None and agent.created_at < was_offline_since
        away = int((now - was_offline_since).total_seconds()) if was_offline_since else None
        publish(
            kind="agent.online",
            business=agent.business,
            agent_id=agent.pk,
            actor="system",
            message=f"{agent.name} is back online" if seen_before else f"{agent.name} came online",
            data={
                "offline_for_s": away,
                "version": agent.version,
                "runtime_location": agent.runtime_location,
            },
        )
    return True


def mark_offline(*, agent: Agent, now=None) -> bool:
    """Set ``offline_since`` and publish ``agent.offline`` if the agent is still silent, once."""
    now = now or timezone.now()
    with transaction.atomic():
        flipped = (
            Agent.objects.offline(now)
            .filter(pk=agent.pk, offline_since__isnull=True)
            .update(offline_since=now)
        )
        if not flipped:
            return False
        agent.offline_since = now
        publish(
            kind="agent.offline",
            business=agent.business,
            agent_id=agent.pk,
            actor="system",
            message=f"{agent.name} went offline (no heartbeat for {agent.heartbeat_timeout_s} s)",
            data={
                "last_heartbeat": agent.last_heartbeat.isoformat() if agent.last_heartbeat else None,
                "desired_state": agent.desired_state,
            },
        )
    return True


def sweep_presence(*, now=None) -> dict:
    """Find agents that fell silent (publish ``agent.offline``) and any whose return a heartbeat
    did not already announce (publish ``agent.online``). Safe to run on several workers at once."""
    now = now or timezone.now()
    silent = (
        Agent.objects.offline(now)
        .filter(offline_since__isnull=True, last_heartbeat__isnull=False)
        .select_related("business")
        .order_by("last_heartbeat")[:SWEEP_BATCH]
    )
    went_offline = sum(mark_offline(agent=agent, now=now) for agent in silent)
    # A heartbeat that raced the sweep can leave a beating agent marked offline; set it right.
    back = (
        Agent.objects.online(now).filter(offline_since__isnull=False).select_related("business")[:SWEEP_BATCH]
    )
    came_back = sum(mark_online(agent=agent, now=now) for agent in back)
    if went_offline or came_back:
        logger.info("presence sweep: %s offline, %s back online", went_offline, came_back)
    return {"offline": went_offline, "online": came_back}
