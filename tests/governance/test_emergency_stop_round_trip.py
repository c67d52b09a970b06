"""The emergency stop end to end, through the public API: what governance does itself (refuse,
flag heartbeats, record, audit) and what the apps above do on its signals (abort running work,
stop agents, hold cron), then the release restoring exactly what was there before."""

import pytest

from agents.services import create_agent
from executions.models import Execution
from tests.conftest import agent_client


@pytest.fixture
def fleet(business, agent, api_as, make_member):
    owner, admin, operator = api_as("owner"), api_as("admin"), api_as("operator")
    other = create_agent(business=business, name="idle-one")
    operator.post(f"/api/v1/agents/{other.pk}/stop", format="json")  # stopped by hand before the stop
    cron = admin.post(
        "/api/v1/cron-jobs/",
        {"business": "acme", "name": "nightly", "schedule": "0 3 * * *", "agent": agent.pk, "enabled": True},
        format="json",
    )
    assert cron.status_code == 201, cron.json()
    paused = admin.post(
        "/api/v1/cron-jobs/",
        {"business": "acme", "name": "weekly", "schedule": "0 3 * * 1", "agent": agent.pk, "enabled": False},
        format="json",
    )
    run = operator.post(f"/api/v1/agents/{agent.pk}/run", {"input": {"q": 1}}, format="json")
    assert run.status_code == 202, run.json()
    return {
        "owner": owner,
        "admin": admin,
        "operator": operator,
        "agent_api": agent_client(agent),
        "other": other,
        "cron": cron.json()["id"],
        "paused": paused.json()["id"],
        "execution": run.json()["id"],
    }


def cron_state(api, job_id: int) -> str:
    return api.get(f"/api/v1/cron-jobs/{job_id}").json()["state"]


@pytest.mark.django_db
def test_the_stop_and_its_release_round_trip(fleet, agent):
    operator, owner, admin = fleet["operator"], fleet["owner"], fleet["admin"]

    engaged = operator.post(
        "/api/v1/emergency-stop", {"reason": "runaway spend", "business": "acme"}, format="json"
    )
    assert engaged.status_code == 200

    # Running work is aborted through the abort path.
    assert Execution.objects.get(pk=fleet["execution"]).status == "aborted"
    # New work is refused.
    refused = operator.post(f"/api/v1/agents/{agent.pk}/run", {"input": {}}, format="json")
    assert (refused.status_code, refused.json()["error"]) == (423, "emergency_stop")
    # Heartbeats say so and carry a stop command.
    beat = fleet["agent_api"].post("/api/v1/agent/heartbeat", {"status": "active"}, format="json").json()
    assert beat["emergency_stop"] is True
    assert "stop" in [c["type"] for c in beat["commands"]]
    # Cron holds; the job paused before stays paused.
    assert cron_state(admin, fleet["cron"]) == "held"
    assert cron_state(admin, fleet["paused"]) == "paused"

    released = owner.post(
        "/api/v1/emergency-stop/release", {"business": "acme", "reason": "fixed"}, format="json"
    )
    assert released.status_code == 200

    beat = fleet["agent_api"].post("/api/v1/agent/heartbeat", {"status": "idle"}, format="json").json()
    assert beat["emergency_stop"] is False
    assert operator.get(f"/api/v1/agents/{agent.pk}").json()["desired_state"] == "running"
    # The agent stopped by hand before the stop stays stopped.
    assert operator.get(f"/api/v1/agents/{fleet['other'].pk}").json()["desired_state"] == "stopped"
    assert cron_state(admin, fleet["cron"]) == "active"
    assert cron_state(admin, fleet["paused"]) == "paused"
    assert operator.post(f"/api/v1/agents/{agent.pk}/run", {"input": {}}, format="json").status_code == 202

    actions = [
        e["action"]
        for e in owner.get("/api/v1/audit/?business=acme&action=emergency_stop.").json()["results"]
    ]
    assert actions == ["emergency_stop.release", "emergency_stop.engage"]
    kinds = [
        e["kind"]
        for e in owner.get(
            "/api/v1/events/?business=acme&kind=emergency_stop.engaged,emergency_stop.released"
        ).json()["results"]
    ]
    assert kinds == ["emergency_stop.released", "emergency_stop.engaged"]
