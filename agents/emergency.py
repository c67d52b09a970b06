"""What the fleet does when an emergency stop is engaged or released.

Engaging turns every running agent in scope to ``stopped``, queues a ``stop`` command for it and
marks it held. Releasing starts exactly the held agents (those that were running before) whose
business is no longer under any stop; an agent an operator stopped or started meanwhile is no
longer held and is left as the operator set it. A fixed number of queries whatever the fleet size.
"""

from django.db import transaction

from agents.models import Agent, AgentCommand, CommandType, DesiredState
from governance.controls import emergency_stop_active
from mission_control import control_versions
from mission_control.events import publish_many
from mission_control.models import Event

ACTOR = "system:emergency_stop"


def _answers_changed(business_id: int | None) -> None:
    """Bulk writes send no signals: tell the heartbeats' cached answers in scope directly."""
    scope = control_versions.GLOBAL if business_id is None else control_versions.business_scope(business_id)
    control_versions.bump(scope)


def _scope(business_id: int | None):
    agents = Agent.objects.all()
    return agents if business_id is None else agents.filter(business_id=business_id)


def _events(agents, kind: str, message: str, commands: dict[int, AgentCommand], reason: str) -> list[Event]:
    return [
        Event(
            kind=kind,
            business_id=agent.business_id,
            business_slug=agent.business.slug,
            agent_id=agent.pk,
            actor=ACTOR,
            message=message.format(name=agent.name)[:500],
            data={"command": commands[agent.pk].pk, "type": commands[agent.pk].type, "reason": reason},
        )
        for agent in agents
    ]


@transaction.atomic
def hold_for_emergency_stop(*, business_id: int | None, reason: str = "") -> list[int]:
    """Stop and hold every running agent in scope (None: every business). Returns their ids."""
    agents = list(
        _scope(business_id)
        .select_for_update(of=("self",), no_key=True)
        .filter(desired_state=DesiredState.RUNNING)
        .select_related("business")
        .order_by("pk")
    )
    if not agents:
        return []
    ids = [a.pk for a in agents]
    Agent.objects.filter(pk__in=ids).update(desired_state=DesiredState.STOPPED, held_by_emergency_stop=True)
    _answers_changed(business_id)
    args = {"reason": "emergency_stop", "detail": reason[:200]}
    created = AgentCommand.objects.bulk_create(
        [AgentCommand(agent_id=pk, type=CommandType.STOP, args=args, requested_by=ACTOR) for pk in ids]
    )
    commands = _by_agent(created, ids)
    publish_many(_events(agents, "agent.stopped", "{name} stopped by the emergency stop", commands, reason))
    return ids


@transaction.atomic
def release_emergency_hold(*, business_id: int | None) -> list[int]:
    """Start the held agents in scope whose business no longer has a stop engaged. Returns their ids."""
    held = list(
        _scope(business_id)
        .select_for_update(of=("self",), no_key=True)
        .filter(held_by_emergency_stop=True)
        .select_related("business")
        .order_by("pk")
    )
    # A business stop released under a still-engaged global stop (or the reverse) keeps its hold.
    still_stopped = {bid for bid in {a.business_id for a in held} if emergency_stop_active(bid)}
    agents = [a for a in held if a.business_id not in still_stopped]
    if not agents:
        return []
    ids = [a.pk for a in agents]
    Agent.objects.filter(pk__in=ids).update(desired_state=DesiredState.RUNNING, held_by_emergency_stop=False)
    _answers_changed(business_id)
    args = {"reason": "emergency_stop_released"}
    created = AgentCommand.objects.bulk_create(
        [AgentCommand(agent_id=pk, type=CommandType.START, args=args, requested_by=ACTOR) for pk in ids]
    )
    commands = _by_agent(created, ids)
    publish_many(
        _events(agents, "agent.started", "{name} restarted: emergency stop released", commands, "released")
    )
    return ids


def _by_agent(created: list[AgentCommand], ids: list[int]) -> dict[int, AgentCommand]:
    if created and created[0].pk is None:  # backends without RETURNING: read them back
        created = list(AgentCommand.objects.filter(agent_id__in=ids).order_by("-id")[: len(ids)])
    return {c.agent_id: c for c in created}
