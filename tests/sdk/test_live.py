"""The SDK against a live server: real HTTP, real keys, the database checked after."""

import threading

import pytest
from mission_control_sdk import AuthenticationError, Client, Heartbeat, NotFound

from agents.models import Agent, AgentCommand
from agents.services import queue_command, revoke_key, scale_agent, stop_agent

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_beats_and_reads_the_answer(sdk, agent):
    answer = sdk.heartbeat(status="active", version="2.0.1", runtime_location="laptop", running=[])
    assert answer["desired_state"] == "running" and answer["emergency_stop"] is False
    agent.refresh_from_db()
    # Reported active; shown idle until the ledger has work of it running.
    assert agent.version == "2.0.1" and agent.status == "active" and agent.effective_status() == "idle"


def test_the_heartbeat_obeys_and_acknowledges_commands(sdk, agent):
    seen = []
    heartbeat = Heartbeat(sdk, on_stop=seen.append, on_scale=seen.append)
    stop_agent(agent=agent)
    scale_agent(agent=agent, replicas=3)
    heartbeat.beat_once()
    assert [c["type"] for c in seen] == ["stop", "scale"] and seen[1]["args"] == {"replicas": 3}
    assert not AgentCommand.objects.pending().filter(agent=agent).exists()
    assert heartbeat.desired_state == "stopped" and not heartbeat.should_work
    heartbeat.beat_once()
    assert len(seen) == 2  # acknowledged commands are not delivered again
    heartbeat.stop()


def test_the_background_loop_delivers_an_abort(sdk, agent):
    aborted = threading.Event()
    heartbeat = Heartbeat(sdk, interval=0.05, on_abort=lambda command: aborted.set())
    queue_command(agent=agent, type="abort", args={"execution": 42})
    heartbeat.start()
    try:
        assert aborted.wait(timeout=10)
    finally:
        heartbeat.stop()
    assert not heartbeat.alive
    assert AgentCommand.objects.get(agent=agent).acknowledged_at is not None


def test_a_revoked_key_stops_the_loop_with_an_authentication_error(sdk, agent):
    errors = []
    revoke_key(key=agent.keys.get())
    heartbeat = Heartbeat(sdk, interval=0.05, on_error=errors.append)
    heartbeat.run()  # returns by itself on a refused key
    assert isinstance(errors[0], AuthenticationError) and errors[0].status == 401


def test_a_wrong_key_is_an_authentication_error(live_server, agent):
    with Client(live_server.url, "mca_wrong", max_retries=0) as client, pytest.raises(AuthenticationError):
        client.heartbeat()
    assert Agent.objects.get(pk=agent.pk).last_heartbeat is None


def test_acknowledging_an_unknown_command_is_not_found(sdk):
    with pytest.raises(NotFound):
        sdk.ack(999_999)


def test_health_answers_without_a_key(live_server):
    with Client(live_server.url, "") as client:
        assert client.health()["status"] == "ok"
