import pytest

from agents.models import AgentCommand
from governance.models import AuditEntry
from governance.stops import engage_emergency_stop, release_emergency_stop
from mission_control.models import Event
from tests.agents.conftest import beat
from tests.conftest import agent_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("action", "desired", "kind"),
    [
        ("stop", "stopped", "agent.stopped"),
        ("start", "running", "agent.started"),
        ("restart", "running", "agent.restarted"),
    ],
)
def test_it_queues_a_lifecycle_command_and_records_who_asked(operator_api, agent, action, desired, kind):
    response = operator_api.post(f"/api/v1/agents/{agent.pk}/{action}")
    assert response.status_code == 202
    body = response.json()
    assert body["command"]["type"] == action and body["agent"]["desired_state"] == desired
    agent.refresh_from_db()
    assert agent.desired_state == desired
    command = AgentCommand.objects.get(pk=body["command"]["id"])
    username = operator_api.user.username
    assert command.requested_by == username
    assert Event.objects.get(kind=kind, agent_id=agent.pk).actor == username
    assert AuditEntry.objects.get(action=f"agent.{action}").actor == username


def test_a_stop_is_delivered_over_http_and_acknowledged(operator_api, agent):
    client = agent_client(agent)
    beat(client, status="active")
    operator_api.post(f"/api/v1/agents/{agent.pk}/stop/")
    answer = beat(client, status="active").json()
    assert answer["desired_state"] == "stopped"
    [command] = answer["commands"]
    assert command["type"] == "stop"
    assert operator_api.get(f"/api/v1/agents/{agent.pk}").json()["lifecycle"] == "stopping"
    assert client.post(f"/api/v1/agent/commands/{command['id']}/ack").status_code == 200
    answer = beat(client, status="idle").json()
    assert answer["commands"] == []
    shown = operator_api.get(f"/api/v1/agents/{agent.pk}").json()
    assert shown["lifecycle"] == "stopped" and shown["pending_commands"] == 0


def test_people_see_an_agents_commands_pending_or_all(viewer_api, operator_api, agent):
    client = agent_client(agent)
    operator_api.post(f"/api/v1/agents/{agent.pk}/stop")
    operator_api.post(f"/api/v1/agents/{agent.pk}/start")
    stop, start = AgentCommand.objects.order_by("id")
    client.post(f"/api/v1/agent/commands/{stop.pk}/ack")
    everything = viewer_api.get(f"/api/v1/agents/{agent.pk}/commands").json()["results"]
    assert [c["type"] for c in everything] == ["start", "stop"]
    pending = viewer_api.get(f"/api/v1/agents/{agent.pk}/commands?pending=1").json()["results"]
    assert [c["id"] for c in pending] == [start.pk]


def test_it_scales_within_bounds(operator_api, agent):
    client = agent_client(agent)
    response = operator_api.post(f"/api/v1/agents/{agent.pk}/scale", {"replicas": 4}, format="json")
    assert response.status_code == 202
    agent.refresh_from_db()
    assert agent.scale == 4
    [command] = beat(client).json()["commands"]
    assert command["type"] == "scale" and command["args"] == {"replicas": 4}
    assert Event.objects.get(kind="agent.scaled").data["after"] == {"scale": 4}


def test_it_refuses_a_scale_outside_the_bounds(operator_api, agent):
    response = operator_api.post(f"/api/v1/agents/{agent.pk}/scale", {"replicas": 11}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "scale_out_of_bounds" and "replicas" in response.json()["fields"]
    agent.refresh_from_db()
    assert agent.scale == 1 and not AgentCommand.objects.exists()


def test_a_viewer_cannot_control_agents(viewer_api, agent):
    assert viewer_api.post(f"/api/v1/agents/{agent.pk}/stop").status_code == 403
    assert not AgentCommand.objects.exists()


def test_another_business_cannot_control_agents(api_as, agent, other_business):
    stranger = api_as("owner", on=other_business)
    assert stranger.post(f"/api/v1/agents/{agent.pk}/stop").status_code == 404


def test_an_emergency_stop_stops_running_agents_and_release_restores_exactly_them(
    business, make_agent, make_member
):
    owner = make_member("owner", business)
    running, stopped_before = make_agent("running"), make_agent("parked", desired_state="stopped")
    client = agent_client(running)
    engage_emergency_stop(business=business, reason="runaway costs", actor=owner)
    answer = beat(client).json()
    assert answer["emergency_stop"] is True and answer["desired_state"] == "stopped"
    assert [c["type"] for c in answer["commands"]] == ["stop"]
    assert not AgentCommand.objects.filter(agent=stopped_before).exists()

    release_emergency_stop(business=business, actor=owner)
    answer = beat(client).json()
    assert answer["emergency_stop"] is False and answer["desired_state"] == "running"
    assert [c["type"] for c in answer["commands"]] == ["stop", "start"]
    stopped_before.refresh_from_db()
    assert stopped_before.desired_state == "stopped"
    assert not AgentCommand.objects.filter(agent=stopped_before).exists()


def test_an_agent_an_operator_stopped_during_the_stop_stays_stopped(
    business, make_agent, make_member, operator_api
):
    owner = make_member("owner", business)
    agent = make_agent("worker")
    engage_emergency_stop(business=business, reason="incident", actor=owner)
    assert operator_api.post(f"/api/v1/agents/{agent.pk}/start").status_code == 423
    operator_api.post(f"/api/v1/agents/{agent.pk}/stop")
    release_emergency_stop(business=business, actor=owner)
    agent.refresh_from_db()
    assert agent.desired_state == "stopped" and not agent.held_by_emergency_stop


def test_a_business_release_under_a_global_stop_keeps_the_hold(
    business, make_agent, make_member, django_user_model
):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    agent = make_agent("worker")
    engage_emergency_stop(business=business, reason="local", actor=root)
    engage_emergency_stop(business=None, reason="global", actor=root)
    release_emergency_stop(business=business, actor=root)
    agent.refresh_from_db()
    assert agent.desired_state == "stopped" and agent.held_by_emergency_stop
    release_emergency_stop(business=None, actor=root)
    agent.refresh_from_db()
    assert agent.desired_state == "running" and not agent.held_by_emergency_stop
