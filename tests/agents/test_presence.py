from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from agents import heartbeats
from agents.models import Agent
from agents.tasks import sweep_presence
from mission_control.models import Event
from tests.agents.conftest import beat
from tests.conftest import agent_client

pytestmark = pytest.mark.django_db


def _kinds(agent):
    return list(
        Event.objects.filter(agent_id=agent.pk, kind__in=["agent.online", "agent.offline"])
        .order_by("id")
        .values_list("kind", flat=True)
    )


def test_the_sweep_publishes_offline_once_and_online_on_return(agent):
    client = agent_client(agent)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        beat(client)
        clock.shift(timedelta(seconds=agent.heartbeat_timeout_s - 1))
        sweep_presence.delay()
        assert _kinds(agent) == ["agent.online"]
        clock.shift(timedelta(seconds=2))
        sweep_presence.delay()
        sweep_presence.delay()
        assert _kinds(agent) == ["agent.online", "agent.offline"]
        assert Agent.objects.get(pk=agent.pk).effective_status() == "offline"
        clock.shift(timedelta(minutes=5))
        beat(client, status="active")
        sweep_presence.delay()
        assert _kinds(agent) == ["agent.online", "agent.offline", "agent.online"]
        assert Agent.objects.get(pk=agent.pk).offline_since is None


def test_the_sweep_leaves_never_seen_agents_alone(agent):
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert heartbeats.sweep_presence() == {"offline": 0, "online": 0}
    assert _kinds(agent) == []


def test_a_stale_reading_cannot_mark_a_beating_agent_offline(agent):
    client = agent_client(agent)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        beat(client)
        clock.shift(timedelta(seconds=agent.heartbeat_timeout_s + 1))
        stale = Agent.objects.get(pk=agent.pk)  # a worker read it while it was silent...
        beat(client)  # ...then the agent beat again before the worker wrote
        assert heartbeats.mark_offline(agent=stale) is False
    assert _kinds(agent) == ["agent.online"]


def test_the_sweep_repairs_an_online_agent_left_marked_offline(agent):
    client = agent_client(agent)
    beat(client)
    Agent.objects.filter(pk=agent.pk).update(offline_since=timezone.now())
    assert heartbeats.sweep_presence() == {"offline": 0, "online": 1}


def test_the_sweep_is_registered_with_beat():
    from mission_control import periodic

    assert ("agents.sweep_presence", "agents.tasks.sweep_presence", 15) in periodic.declared()


def test_a_longer_timeout_moves_the_offline_deadline(admin_api, agent):
    client = agent_client(agent)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        beat(client)
        admin_api.patch(f"/api/v1/agents/{agent.pk}", {"heartbeat_timeout_s": 600}, format="json")
        clock.shift(timedelta(seconds=120))
        heartbeats.sweep_presence()
    assert _kinds(agent) == ["agent.online"]
