import pytest
from django.utils import timezone

from agents.models import AgentKey
from mission_control.secrets import hash_secret
from tests.agents.conftest import beat
from tests.conftest import agent_client

pytestmark = pytest.mark.django_db


def _issue(api, agent, name="prod"):
    return api.post(f"/api/v1/agents/{agent.pk}/keys", {"name": name}, format="json")


def test_it_issues_a_key_once_and_stores_only_its_hash(admin_api, agent):
    response = _issue(admin_api, agent)
    assert response.status_code == 201
    raw = response.json()["key"]
    assert raw.startswith("mca_") and response["Cache-Control"] == "no-store"
    key = AgentKey.objects.get(pk=response.json()["id"])
    assert key.key_hash == hash_secret(raw)
    assert raw not in {key.prefix, key.key_hash, key.name}
    listed = admin_api.get(f"/api/v1/agents/{agent.pk}/keys").json()["results"]
    assert listed[0]["prefix"] == key.prefix and "key" not in listed[0]


def test_the_issued_key_authenticates_the_agent(admin_api, agent):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {_issue(admin_api, agent).json()['key']}")
    assert beat(client).status_code == 200


def test_several_keys_work_side_by_side_for_rotation(agent):
    old, new = agent_client(agent), agent_client(agent)
    assert beat(old).status_code == 200
    assert beat(new).status_code == 200


def test_a_revoked_key_is_refused_at_once_like_a_wrong_one(admin_api, agent):
    old, new = agent_client(agent), agent_client(agent)
    key = AgentKey.objects.get(key_hash=hash_secret(old.raw_key))
    assert admin_api.delete(f"/api/v1/agents/{agent.pk}/keys/{key.pk}").status_code == 204
    revoked = beat(old)
    wrong = old.__class__()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer mca_" + "x" * 43)
    wrong_response = beat(wrong)
    assert revoked.status_code == wrong_response.status_code == 401
    assert revoked.json() == wrong_response.json()
    assert revoked["WWW-Authenticate"] == wrong_response["WWW-Authenticate"]
    assert beat(new).status_code == 200
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_revoking_twice_is_harmless(admin_api, agent):
    client = agent_client(agent)
    key = AgentKey.objects.get(key_hash=hash_secret(client.raw_key))
    admin_api.delete(f"/api/v1/agents/{agent.pk}/keys/{key.pk}")
    assert admin_api.delete(f"/api/v1/agents/{agent.pk}/keys/{key.pk}").status_code == 204


def test_it_records_when_a_key_was_last_used(agent):
    client = agent_client(agent)
    key = AgentKey.objects.get(key_hash=hash_secret(client.raw_key))
    assert key.last_used_at is None
    before = timezone.now()
    beat(client)
    key.refresh_from_db()
    assert key.last_used_at >= before


def test_only_admins_issue_and_revoke_keys(operator_api, agent):
    client = agent_client(agent)
    key = AgentKey.objects.get(key_hash=hash_secret(client.raw_key))
    assert _issue(operator_api, agent).status_code == 403
    assert operator_api.delete(f"/api/v1/agents/{agent.pk}/keys/{key.pk}").status_code == 403
    assert AgentKey.objects.filter(agent=agent).count() == 1


def test_a_key_of_another_agent_is_not_found(admin_api, agent, make_agent):
    other = make_agent("other")
    client = agent_client(other)
    key = AgentKey.objects.get(key_hash=hash_secret(client.raw_key))
    assert admin_api.delete(f"/api/v1/agents/{agent.pk}/keys/{key.pk}").status_code == 404
    assert beat(client).status_code == 200
