"""Agent actions: registration, keys, lifecycle commands. One transaction each.

Lifecycle events, published when an operator (or the emergency stop) asks, carry who asked:
``agent.started``, ``agent.stopped``, ``agent.restarted``, ``agent.scaled`` (the desired state
changed and a command is queued); ``agent.command_acked`` when the agent confirms it.
Heartbeats and presence (``agent.online`` / ``agent.offline``) live in ``agents.heartbeats``.
"""

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.auth import forget_key
from agents.models import Agent, AgentCommand, AgentKey, CommandType, DesiredState
from governance import audit
from governance.audit import actor_name
from governance.controls import emergency_stop_active
from governance.models import Business
from mission_control import control_versions, outbound
from mission_control.errors import DomainError
from mission_control.events import publish
from mission_control.secrets import issue_secret
from mission_control.ws_security import notify_access_changed

# The fields an admin may set on an agent (desired state and scale move through lifecycle commands).
EDITABLE_FIELDS = (
    "name",
    "capabilities",
    "mode",
    "endpoint_url",
    "min_scale",
    "max_scale",
    "heartbeat_timeout_s",
    "max_cost_per_execution_usd",
    "notes",
)


def _name_taken(name: str) -> DomainError:
    return DomainError(
        "name_taken",
        f"An agent named '{name}' already exists in this business.",
        fields={"name": ["Already taken in this business."]},
    )


def _check_endpoint(url: str) -> None:
    """A push endpoint must be a public address (SSRF): 400 ``url_not_allowed`` otherwise."""
    try:
        outbound.validate_url(url)
    except outbound.OutboundRefused as exc:
        raise DomainError(exc.code, f"endpoint_url: {exc}", fields={"endpoint_url": [str(exc)]}) from None


def _check_shape(agent: Agent) -> None:
    """Rules that span fields; the database holds the same bounds as check constraints."""
    if agent.mode == "push" and not agent.endpoint_url:
        raise DomainError(
            "validation_error",
            "endpoint_url: a push agent needs an endpoint URL.",
            fields={"endpoint_url": ["Required for push agents."]},
        )
    if agent.min_scale > agent.max_scale:
        raise DomainError(
            "validation_error",
            "min_scale: must not exceed max_scale.",
            fields={"min_scale": ["Must not exceed max_scale."]},
        )
    if not agent.min_scale <= agent.scale <= agent.max_scale:
        raise DomainError(
            "scale_out_of_bounds",
            f"scale: {agent.scale} is outside {agent.min_scale}..{agent.max_scale}.",
            fields={"scale": [f"Must be between {agent.min_scale} and {agent.max_scale}."]},
        )


def _snapshot(agent: Agent, fields) -> dict:
    out = {}
    for name in fields:
        value = getattr(agent, name)
        out[name] = str(value) if isinstance(value, Decimal) else value
    return out


@transaction.atomic
def create_agent(*, business: Business, name: str, actor=None, **fields) -> Agent:
    """Register an agent in a business. A taken name is a 409; a push agent needs an endpoint."""
    now = timezone.now()
    # Never seen yet: it counts as offline since creation, so its first heartbeat says agent.online.
    agent = Agent(business=business, name=name, offline_since=now, created_at=now, **fields)
    _check_shape(agent)
    _check_endpoint(agent.endpoint_url)
    try:
        with transaction.atomic():
            agent.save()
    except IntegrityError:
        raise _name_taken(name) from None
    audit.record(
        actor=actor,
        action="agent.create",
        business=business,
        target_type="agent",
        target_id=agent.pk,
        after=_snapshot(agent, ("name", *EDITABLE_FIELDS[1:], "scale")),
    )
    publish(
        kind="agent.registered",
        business=business,
        agent_id=agent.pk,
        actor=actor_name(actor),
        message=f"Agent {name} registered",
    )
    return agent


@transaction.atomic
def update_agent(*, agent: Agent, actor=None, **changes) -> Agent:
    """Change an agent's settings (admin). Only ``EDITABLE_FIELDS``; audited with before/after."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    agent = (
        Agent.objects.select_for_update(of=("self",), no_key=True).select_related("business").get(pk=agent.pk)
    )
    changed = [name for name, value in changes.items() if getattr(agent, name) != value]
    if not changed:
        return agent
    before = _snapshot(agent, changed)
    for name in changed:
        setattr(agent, name, changes[name])
    _check_shape(agent)
    if "endpoint_url" in changed:
        _check_endpoint(agent.endpoint_url)
    saved = list(changed)
    if "heartbeat_timeout_s" in changed:
        agent.offline_after = agent.expected_by()
        saved.append("offline_after")
    try:
        with transaction.atomic():
            agent.save(update_fields=saved)
    except IntegrityError:
        raise _name_taken(agent.name) from None
    after = _snapshot(agent, changed)
    audit.record(
        actor=actor,
        action="agent.update",
        business=agent.business,
        target_type="agent",
        target_id=agent.pk,
        before=before,
        after=after,
    )
    publish(
        kind="agent.updated",
        business=agent.business,
        agent_id=agent.pk,
        actor=actor_name(actor),
        message=f"Agent {agent.name} updated: {', '.join(changed)}",
        data={"before": before, "after": after},
    )
    return agent


@transaction.atomic
def issue_key(*, agent: Agent, name: str = "", actor=None) -> tuple[AgentKey, str]:
    """Issue a new key for ``agent``; returns the row and the raw key, which is never stored.

    An agent may hold several active keys, so a key is rotated by issuing the new one, deploying
    it, then revoking the old one.
    """
    secret = issue_secret("mca")
    key = AgentKey.objects.create(
        agent=agent,
        name=name,
        prefix=secret.prefix,
        key_hash=secret.digest,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit.record(
        actor=actor,
        action="agent.key_issue",
        business=agent.business,
        target_type="agent_key",
        target_id=key.pk,
        after={"agent": agent.pk, "prefix": key.prefix, "name": name},
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
def revoke_key(*, key: AgentKey, actor=None) -> bool:
    """Revoke a key at once; the next request with it is a 401. Revoking twice is a no-op."""
    updated = AgentKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    forget_key(key.key_hash)  # the key caches answer no more for it (a no-op when revoked twice)
    control_versions.bump(control_versions.agent_scope(key.agent_id))
    if updated:
        business = key.agent.business
        audit.record(
            actor=actor,
            action="agent.key_revoke",
            business=business,
            target_type="agent_key",
            target_id=key.pk,
            before={"agent": key.agent_id, "prefix": key.prefix},
        )
        publish(
            kind="agent.key_revoked",
            business=business,
            agent_id=key.agent_id,
            actor=actor_name(actor),
            message=f"Key {key.prefix}… revoked",
            data={"key_id": key.pk},
        )
        notify_access_changed(agent_id=key.agent_id)
    return bool(updated)


def queue_command(*, agent: Agent, type: str, args: dict | None = None, actor=None) -> AgentCommand:
    """Queue a command that every heartbeat answer carries until the agent acknowledges it."""
    return AgentCommand.objects.create(
        agent_id=agent.pk, type=type, args=args or {}, requested_by=actor_name(actor)[:150]
    )


_VERBS = {
    CommandType.START: ("agent.started", "Start"),
    CommandType.STOP: ("agent.stopped", "Stop"),
    CommandType.RESTART: ("agent.restarted", "Restart"),
    CommandType.SCALE: ("agent.scaled", "Scale"),
}


def _lifecycle(*, agent: Agent, type: str, actor, args: dict | None = None, **sets) -> AgentCommand:
    """Set the desired state (or scale), queue the command, audit and publish: one transaction."""
    with transaction.atomic():
        locked = (
            Agent.objects.select_for_update(of=("self",), no_key=True)
            .select_related("business")
            .get(pk=agent.pk)
        )
        fields = sorted(sets)
        before = _snapshot(locked, fields)
        for name, value in sets.items():
            setattr(locked, name, value)
        if "scale" in sets:  # against the bounds as they are now, not as the caller read them
            _check_replicas(locked, sets["scale"])
        if fields:
            locked.save(update_fields=fields)
        command = queue_command(agent=locked, type=type, args=args, actor=actor)
        after = _snapshot(locked, fields)
        audit.record(
            actor=actor,
            action=f"agent.{type}",
            business=locked.business,
            target_type="agent",
            target_id=locked.pk,
            before=before,
            after=after,
        )
        kind, verb = _VERBS[type]
        publish(
            kind=kind,
            business=locked.business,
            agent_id=locked.pk,
            actor=actor_name(actor),
            message=f"{verb} {locked.name} requested by {actor_name(actor)}",
            data={
                "command": command.pk,
                "type": type,
                "args": command.args,
                "before": before,
                "after": after,
            },
        )
    for name in fields:  # the caller's object reflects what was saved
        setattr(agent, name, getattr(locked, name))
    return command


def _refuse_during_emergency_stop(agent: Agent) -> None:
    if emergency_stop_active(agent.business_id):
        raise DomainError("emergency_stop", "An emergency stop is engaged; agents cannot be started.")


def start_agent(*, agent: Agent, actor=None) -> AgentCommand:
    """Desired state ``running`` and a ``start`` command. Refused (423) under an emergency stop."""
    _refuse_during_emergency_stop(agent)
    return _lifecycle(
        agent=agent,
        type=CommandType.START,
        actor=actor,
        desired_state=DesiredState.RUNNING,
        held_by_emergency_stop=False,
    )


def stop_agent(*, agent: Agent, actor=None) -> AgentCommand:
    """Desired state ``stopped`` and a ``stop`` command. An operator's stop outlives an emergency
    stop: the agent is no longer held, so releasing the stop leaves it stopped."""
    return _lifecycle(
        agent=agent,
        type=CommandType.STOP,
        actor=actor,
        desired_state=DesiredState.STOPPED,
        held_by_emergency_stop=False,
    )


def restart_agent(*, agent: Agent, actor=None) -> AgentCommand:
    """A ``restart`` command; the agent ends up running. Refused (423) under an emergency stop."""
    _refuse_during_emergency_stop(agent)
    return _lifecycle(
        agent=agent,
        type=CommandType.RESTART,
        actor=actor,
        desired_state=DesiredState.RUNNING,
        held_by_emergency_stop=False,
    )


def _check_replicas(agent: Agent, replicas: int) -> None:
    if not agent.min_scale <= replicas <= agent.max_scale:
        raise DomainError(
            "scale_out_of_bounds",
            f"replicas: {replicas} is outside {agent.min_scale}..{agent.max_scale} for this agent.",
            fields={"replicas": [f"Must be between {agent.min_scale} and {agent.max_scale}."]},
        )


def scale_agent(*, agent: Agent, replicas: int, actor=None) -> AgentCommand:
    """Set the replica count within the agent's min/max (else 400) and queue a ``scale`` command."""
    _check_replicas(agent, replicas)
    return _lifecycle(
        agent=agent, type=CommandType.SCALE, actor=actor, args={"replicas": replicas}, scale=replicas
    )


@transaction.atomic
def acknowledge_command(*, agent: Agent, command_id: int) -> AgentCommand:
    """The agent confirms a command; it stops being delivered. Acknowledging twice is harmless.
    A command of another agent is a 404."""
    now = timezone.now()
    acked = AgentCommand.objects.filter(
        pk=command_id, agent_id=agent.pk, acknowledged_at__isnull=True
    ).update(acknowledged_at=now)
    if acked:  # the heartbeat's cached answer no longer carries it
        control_versions.bump(control_versions.agent_scope(agent.pk))
    command = AgentCommand.objects.filter(pk=command_id, agent_id=agent.pk).first()
    if command is None:
        raise DomainError("not_found", "No such command for this agent.")
    if acked:
        publish(
            kind="agent.command_acked",
            business=agent.business,
            agent_id=agent.pk,
            actor=f"agent:{agent.pk}",
            message=f"{agent.name} acknowledged {command.type}",
            data={"command": command.pk, "type": command.type, "args": command.args},
        )
    return command
