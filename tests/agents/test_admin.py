import re

import pytest

from agents.models import AgentCommand, AgentKey
from governance.models import AuditEntry
from mission_control.secrets import hash_secret

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    return client


def test_the_agent_list_costs_a_fixed_number_of_queries(
    admin_client, make_agent, django_assert_max_num_queries
):
    for _ in range(25):
        make_agent()
    with django_assert_max_num_queries(12):
        response = admin_client.get("/admin/agents/agent/")
    assert response.status_code == 200 and b"agent-24" in response.content


def test_the_issue_key_action_shows_the_raw_key_once_and_stores_its_hash(admin_client, agent):
    response = admin_client.post(
        "/admin/agents/agent/", {"action": "issue_keys", "_selected_action": [agent.pk]}
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    raw = re.search(rb"mca_[A-Za-z0-9_-]+", response.content).group().decode()
    assert AgentKey.objects.get(agent=agent).key_hash == hash_secret(raw)
    page = admin_client.get(f"/admin/agents/agent/{agent.pk}/change/")
    assert raw.encode() not in page.content


def test_the_revoke_action_revokes_at_once(admin_client, agent):
    from agents.services import issue_key

    key, _ = issue_key(agent=agent)
    admin_client.post("/admin/agents/agentkey/", {"action": "revoke_keys", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEntry.objects.filter(action="agent.key_revoke").exists()


def test_the_stop_action_queues_a_command(admin_client, agent):
    admin_client.post("/admin/agents/agent/", {"action": "stop_agents", "_selected_action": [agent.pk]})
    agent.refresh_from_db()
    assert agent.desired_state == "stopped"
    assert AgentCommand.objects.get(agent=agent).requested_by == "root"


def test_adding_an_agent_in_the_admin_goes_through_the_service(admin_client, business):
    response = admin_client.post(
        "/admin/agents/agent/add/",
        {
            "business": business.pk,
            "name": "triage",
            "mode": "pull",
            "endpoint_url": "",
            "capabilities": '["support"]',
            "notes": "",
            "scale": 1,
            "min_scale": 0,
            "max_scale": 5,
            "heartbeat_timeout_s": 60,
            "max_cost_per_execution_usd": "",
            **_empty_inlines(),
        },
    )
    assert response.status_code == 302, response.content[:2000]
    entry = AuditEntry.objects.get(action="agent.create")
    assert entry.actor == "root" and entry.after["capabilities"] == ["support"]


def test_the_admin_refuses_a_push_agent_without_endpoint(admin_client, business):
    response = admin_client.post(
        "/admin/agents/agent/add/",
        {
            "business": business.pk,
            "name": "pusher",
            "mode": "push",
            "endpoint_url": "",
            "capabilities": "[]",
            "scale": 1,
            "min_scale": 0,
            "max_scale": 5,
            "heartbeat_timeout_s": 60,
            **_empty_inlines(),
        },
    )
    assert response.status_code == 200 and b"Required for push agents." in response.content


def _empty_inlines():
    data = {}
    for prefix in ("commands", "keys"):
        data.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    return data
