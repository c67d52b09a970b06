from decimal import Decimal

import pytest

from agents.models import Agent
from governance.models import AuditEntry
from mission_control.models import Event

pytestmark = pytest.mark.django_db


def test_it_registers_an_agent_as_an_admin(admin_api, business):
    response = admin_api.post(
        "/api/v1/agents/",
        {
            "business": "acme",
            "name": "triage",
            "capabilities": ["support", "classify"],
            "mode": "pull",
            "scale": 2,
            "max_cost_per_execution_usd": "0.25",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    agent = Agent.objects.get(pk=body["id"])
    assert agent.business == business and agent.capabilities == ["support", "classify"]
    assert agent.max_cost_per_execution_usd == Decimal("0.25")
    assert body["status"] == "offline" and body["desired_state"] == "running" and body["scale"] == 2
    assert Event.objects.filter(kind="agent.registered", agent_id=agent.pk).exists()
    assert AuditEntry.objects.filter(action="agent.create", target_id=str(agent.pk)).exists()


def test_it_refuses_registration_below_admin(operator_api):
    response = operator_api.post("/api/v1/agents", {"business": "acme", "name": "x"}, format="json")
    assert response.status_code == 403
    assert not Agent.objects.exists()


def test_it_hides_another_business_on_registration(admin_api, other_business):
    response = admin_api.post("/api/v1/agents", {"business": "globex", "name": "x"}, format="json")
    assert response.status_code == 404


def test_it_answers_409_for_a_taken_name(admin_api, make_agent):
    make_agent("triage")
    response = admin_api.post("/api/v1/agents", {"business": "acme", "name": "triage"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "name_taken"


def test_it_requires_an_endpoint_for_a_push_agent(admin_api):
    response = admin_api.post(
        "/api/v1/agents", {"business": "acme", "name": "pusher", "mode": "push"}, format="json"
    )
    assert response.status_code == 400
    assert "endpoint_url" in response.json()["fields"]
    assert not Agent.objects.exists()


def test_it_refuses_unknown_fields(admin_api):
    response = admin_api.post(
        "/api/v1/agents", {"business": "acme", "name": "x", "colour": "blue"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"colour": ["Unknown field."]}


def test_it_lists_only_the_callers_businesses(viewer_api, make_agent, other_business):
    make_agent("mine")
    make_agent("theirs", on=other_business)
    names = [a["name"] for a in viewer_api.get("/api/v1/agents").json()["results"]]
    assert names == ["mine"]


def test_it_answers_404_for_a_business_the_caller_cannot_see(viewer_api, other_business):
    assert viewer_api.get("/api/v1/agents?business=globex").status_code == 404


def test_a_superuser_sees_every_business(django_user_model, make_agent, other_business):
    from tests.conftest import client_for

    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    make_agent("mine")
    make_agent("theirs", on=other_business)
    names = {a["name"] for a in client_for(root).get("/api/v1/agents").json()["results"]}
    assert names == {"mine", "theirs"}


def test_it_filters_by_capability_and_effective_status(viewer_api, make_agent):
    from agents.heartbeats import record_heartbeat

    coder = make_agent("coder", capabilities=["code", "review"])
    make_agent("writer", capabilities=["write"])
    from executions.models import Execution

    record_heartbeat(agent=coder, status="active")
    reader = make_agent("reader")
    record_heartbeat(agent=reader, status="active")  # says active, but nothing of it runs: idle
    Execution.objects.create(business=coder.business, agent=coder, status="running", trigger="manual")
    by_capability = viewer_api.get("/api/v1/agents?capability=review").json()["results"]
    assert [a["name"] for a in by_capability] == ["coder"]
    offline = viewer_api.get("/api/v1/agents?status=offline").json()["results"]
    assert [a["name"] for a in offline] == ["writer"]
    active = viewer_api.get("/api/v1/agents?status=active&business=acme").json()["results"]
    assert [a["name"] for a in active] == ["coder"]
    assert viewer_api.get("/api/v1/agents?status=sleepy").status_code == 400


def test_it_lists_in_a_fixed_number_of_queries(viewer_api, make_agent, django_assert_max_num_queries):
    make_agent()
    viewer_api.get("/api/v1/agents")  # warm the role cache of nothing: same path as below
    for _ in range(30):
        make_agent()
    with django_assert_max_num_queries(4):
        response = viewer_api.get("/api/v1/agents?limit=100")
    assert len(response.json()["results"]) == 31


def test_it_shows_one_agent_and_hides_others(viewer_api, make_agent, other_business):
    agent = make_agent("mine")
    theirs = make_agent("theirs", on=other_business)
    body = viewer_api.get(f"/api/v1/agents/{agent.pk}/").json()
    for field in ("status", "desired_state", "lifecycle", "last_heartbeat", "version", "runtime_location"):
        assert field in body
    assert viewer_api.get(f"/api/v1/agents/{theirs.pk}").status_code == 404


def test_it_edits_an_agent_as_an_admin_and_audits_it(admin_api, make_agent):
    agent = make_agent("coder")
    response = admin_api.patch(
        f"/api/v1/agents/{agent.pk}", {"capabilities": ["code"], "notes": "on call"}, format="json"
    )
    assert response.status_code == 200
    agent.refresh_from_db()
    assert agent.capabilities == ["code"] and agent.notes == "on call"
    entry = AuditEntry.objects.get(action="agent.update")
    assert entry.before == {"capabilities": [], "notes": ""}


def test_it_refuses_edits_below_admin(operator_api, make_agent):
    agent = make_agent("coder")
    assert operator_api.patch(f"/api/v1/agents/{agent.pk}", {"notes": "x"}, format="json").status_code == 403


def test_it_refuses_bounds_that_exclude_the_current_scale(admin_api, make_agent):
    agent = make_agent("coder", scale=3)
    response = admin_api.patch(f"/api/v1/agents/{agent.pk}", {"max_scale": 2}, format="json")
    assert response.status_code == 400
    agent.refresh_from_db()
    assert agent.max_scale == 10


def test_agent_keys_cannot_use_the_registry(agent_api):
    assert agent_api.get("/api/v1/agents").status_code == 403
