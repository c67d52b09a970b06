from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from agents.models import Agent, AgentCommand
from agents.services import queue_command
from mission_control.models import Event
from tests.agents.conftest import beat
from tests.conftest import agent_client

pytestmark = pytest.mark.django_db


def test_it_records_what_the_agent_reports(agent_api, agent):
    response = beat(
        agent_api,
        status="active",
        version="1.4.2",
        runtime_location="k8s/eu-west-1/pod-7",
        capabilities=["code"],
        running=[11, 12],
    )
    assert response.status_code == 200
    agent.refresh_from_db()
    assert (agent.status, agent.version, agent.runtime_location) == ("active", "1.4.2", "k8s/eu-west-1/pod-7")
    assert agent.capabilities == ["code"] and agent.running_executions == [11, 12]
    # Online; "active" is shown only while the ledger has work of it running (11 and 12 do not exist).
    assert agent.last_heartbeat is not None and agent.effective_status() == "idle"


def test_it_answers_desired_state_commands_and_governance_flags(agent_api, agent):
    body = beat(agent_api).json()
    assert body["desired_state"] == "running"
    assert body["commands"] == []
    assert body["emergency_stop"] is False and body["budget_exhausted"] is False
    assert body["heartbeat_interval_s"] == agent.heartbeat_timeout_s // 3


def test_it_announces_the_first_heartbeat_once(agent_api, agent):
    beat(agent_api)
    beat(agent_api)
    assert Event.objects.filter(kind="agent.online", agent_id=agent.pk).count() == 1


def test_it_skips_the_row_write_for_an_unchanged_beat_within_seconds(agent_api, agent):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        beat(agent_api, status="idle")
        first = Agent.objects.get(pk=agent.pk).last_heartbeat
        clock.shift(timedelta(seconds=2))
        beat(agent_api, status="idle")
        assert Agent.objects.get(pk=agent.pk).last_heartbeat == first
        clock.shift(timedelta(seconds=1))
        beat(agent_api, status="active")  # a change is written at once
        assert Agent.objects.get(pk=agent.pk).status == "active"
        clock.shift(timedelta(seconds=6))
        beat(agent_api, status="active")
        assert Agent.objects.get(pk=agent.pk).last_heartbeat == first + timedelta(seconds=9)


def test_it_refuses_unknown_fields_and_bad_status(agent_api):
    assert beat(agent_api, status="sleeping").status_code == 400
    assert beat(agent_api, mood="great").status_code == 400


def test_operators_cannot_send_heartbeats(operator_api):
    assert beat(operator_api).status_code == 403


def test_it_needs_credentials(client):
    assert client.post("/api/v1/agent/heartbeat", {}, content_type="application/json").status_code == 401


def _fleet(business, size, prefix):
    from agents.services import create_agent

    agents = [create_agent(business=business, name=f"{prefix}-{i}") for i in range(size)]
    for agent in agents:
        for _ in range(3):
            queue_command(agent=agent, type="restart")
    return agents


def _steady_beat_queries(client, django_assert_max_num_queries, limit):
    beat(client)  # first beat: online event, key last-used, commands delivered
    later = time_machine.travel(timezone.now() + timedelta(seconds=30), tick=False)
    with later, django_assert_max_num_queries(limit) as ctx:
        assert beat(client, status="active", running=[1]).status_code == 200
    return len(ctx.captured_queries)


def test_a_heartbeat_costs_the_same_few_queries_whatever_the_fleet_size(
    business, django_assert_max_num_queries
):
    small = _fleet(business, 1, "small")
    cost_small = _steady_beat_queries(agent_client(small[0]), django_assert_max_num_queries, 6)
    big = _fleet(business, 60, "big")
    cost_big = _steady_beat_queries(agent_client(big[-1]), django_assert_max_num_queries, 6)
    assert cost_small == cost_big


def test_commands_are_delivered_until_acknowledged(agent_api, agent):
    command = queue_command(agent=agent, type="restart")
    assert [c["id"] for c in beat(agent_api).json()["commands"]] == [command.pk]
    assert [c["id"] for c in beat(agent_api).json()["commands"]] == [command.pk]
    command.refresh_from_db()
    assert command.delivered_at is not None and command.acknowledged_at is None
    ack = agent_api.post(f"/api/v1/agent/commands/{command.pk}/ack")
    assert ack.status_code == 200 and ack.json()["acknowledged_at"]
    assert beat(agent_api).json()["commands"] == []
    assert agent_api.post(f"/api/v1/agent/commands/{command.pk}/ack/").status_code == 200
    assert Event.objects.filter(kind="agent.command_acked", agent_id=agent.pk).count() == 1


def test_an_agent_cannot_acknowledge_another_agents_command(agent_api, make_agent):
    other = make_agent("other")
    command = queue_command(agent=other, type="stop")
    assert agent_api.post(f"/api/v1/agent/commands/{command.pk}/ack").status_code == 404
    assert AgentCommand.objects.get(pk=command.pk).acknowledged_at is None


def test_it_says_when_a_budget_in_scope_is_exhausted(agent_api, agent, business, other_business):
    from decimal import Decimal

    from governance.models import Budget

    Budget.objects.create(business=other_business, period="day", limit_usd=Decimal(0))
    assert beat(agent_api).json()["budget_exhausted"] is False
    Budget.objects.create(business=business, agent_id=agent.pk, period="day", limit_usd=Decimal(0))
    assert beat(agent_api).json()["budget_exhausted"] is True
