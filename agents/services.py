"""Agent actions: registration, keys, lifecycle commands, heartbeats."""

from django.db import transaction
from django.utils import timezone

from agents.models import Agent, AgentCommand, AgentKey
from governance.audit import actor_name
from governance.models import Business
from mission_control.events import publish
from mission_control.secrets import issue_secret


@transaction.atomic
def create_agent(*, business: Business, name: str, actor=None, **fields) -> Agent:
    """Register an agent in a business (names are unique per business)."""
    agent = Agent.objects.create(business=business, name=name, **fields)
    publish(
        kind="agent.registered",
        business=business,
        agent_id=agent.pk,
        actor=actor_name(actor),
        message=f"Agent {name} registered",
    )
    return agent


@transaction.atomic
def issue_key(*, agent: Agent, name: str = "", actor=None) -> tuple[AgentKey, str]:
    """Issue a new key for ``agent``; returns the row and the raw key, which is never stored."""
    secret = issue_secret("mca")
    key = AgentKey.objects.create(
        agent=agent,
        name=name,
        prefix=secret.prefix,
        key_hash=secret.digest,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    publish(
        kind="agent.key_issued",
        business=agent.business,
        agent_id=agent.pk,
        actor=actor_name(actor),
        message=f"Key {key.prefix}… issued",
        data={"key_id": key.pk},
    )
    return key, secret.raw


@transaction.atomic
def revoke_key(*, key: AgentKey, actor=None) -> None:
    """Revoke a key at once; the next request with it is a 401."""
    updated = AgentKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if updated:
        publish(
            kind="agent.key_revoked",
            business=key.agent.business,
            agent_id=key.agent_id,
            actor=actor_name(actor),
            message=f"Key {key.prefix}… revoked",
            data={"key_id": key.pk},
        )


def queue_command(*, agent: Agent, type: str, args: dict | None = None, actor=None) -> AgentCommand:
    """Queue a command that every heartbeat answer carries until the agent acknowledges it."""

    return AgentCommand.objects.create(
        agent=agent, type=type, args=args or {}, requested_by=actor_name(actor)
    )
