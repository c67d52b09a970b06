import pytest

from governance.models import AuditEntry, ExecutionPolicy


@pytest.mark.django_db
def test_an_admin_restricts_an_agent(api_as, agent):
    response = api_as("admin").post(
        "/api/v1/policies/",
        {
            "business": "acme",
            "agent": agent.pk,
            "allowed_triggers": ["cron"],
            "max_cost_per_execution_usd": "0.5",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    policy = ExecutionPolicy.objects.get()
    assert (policy.agent_id, policy.allowed_triggers) == (agent.pk, ["cron"])
    assert AuditEntry.objects.filter(action="policy.create").count() == 1


@pytest.mark.django_db
def test_a_bad_trigger_or_rate_is_a_400(api_as):
    api = api_as("admin")
    response = api.post(
        "/api/v1/policies", {"business": "acme", "allowed_triggers": ["sometimes"]}, format="json"
    )
    assert response.status_code == 400 and "allowed_triggers" in response.json()["fields"]
    response = api.post("/api/v1/policies", {"business": "acme", "rate_limit": "lots"}, format="json")
    assert response.status_code == 400 and "rate_limit" in response.json()["fields"]


@pytest.mark.django_db
def test_one_policy_per_scope(api_as):
    api = api_as("admin")
    assert api.post("/api/v1/policies", {"business": "acme"}, format="json").status_code == 201
    response = api.post("/api/v1/policies", {"business": "acme"}, format="json")
    assert (response.status_code, response.json()["error"]) == (409, "policy_exists")


@pytest.mark.django_db
def test_an_admin_changes_and_deletes_a_policy(api_as, business):
    policy = ExecutionPolicy.objects.create(business=business)
    api = api_as("admin")
    response = api.patch(f"/api/v1/policies/{policy.pk}", {"allowed_models": ["gpt-4o-mini"]}, format="json")
    assert response.status_code == 200 and response.json()["allowed_models"] == ["gpt-4o-mini"]
    assert api.delete(f"/api/v1/policies/{policy.pk}").status_code == 204
    assert not ExecutionPolicy.objects.exists()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert actions == {"policy.update", "policy.delete"}


@pytest.mark.django_db
def test_operators_read_but_cannot_change(operator_api, business):
    policy = ExecutionPolicy.objects.create(business=business)
    assert operator_api.get("/api/v1/policies").json()["results"][0]["id"] == policy.pk
    assert (
        operator_api.patch(
            f"/api/v1/policies/{policy.pk}", {"rate_limit": "1/min"}, format="json"
        ).status_code
        == 403
    )
