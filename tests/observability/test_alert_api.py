from decimal import Decimal

import pytest

from governance.models import AuditEntry
from observability.models import Alert, AlertRule

pytestmark = pytest.mark.django_db

RULE = {
    "business": "acme",
    "name": "Failing agents",
    "kind": "failure_rate",
    "threshold": "0.25",
    "window_minutes": 15,
    "email_to": "ops@example.com",
}


def test_it_lets_an_admin_create_a_rule(api_as, business):
    response = api_as("admin").post("/api/v1/alert-rules", RULE, format="json")

    assert response.status_code == 201, response.content
    rule = AlertRule.objects.get()
    assert (rule.kind, rule.threshold, rule.window_minutes) == ("failure_rate", Decimal("0.25"), 15)
    assert response.json()["business"] == "acme"
    assert AuditEntry.objects.filter(action="alert_rule.create", target_id=str(rule.pk)).exists()


def test_it_refuses_rules_from_operators_and_strangers(api_as, other_business):
    assert api_as("operator").post("/api/v1/alert-rules", RULE, format="json").status_code == 403
    assert (
        api_as("admin").post("/api/v1/alert-rules", {**RULE, "business": "globex"}, format="json").status_code
        == 404
    )
    assert not AlertRule.objects.exists()


def test_it_refuses_a_failure_rate_above_one_and_unknown_fields(api_as, business):
    admin = api_as("admin")

    bad_rate = admin.post("/api/v1/alert-rules", {**RULE, "threshold": "5"}, format="json")
    unknown = admin.post("/api/v1/alert-rules", {**RULE, "severity": "high"}, format="json")

    assert bad_rate.json()["fields"] == {"threshold": ["A failure rate is a fraction from 0 to 1."]}
    assert unknown.json()["fields"] == {"severity": ["Unknown field."]}


def test_it_refuses_an_agent_of_another_business(api_as, other_business):
    from agents.services import create_agent

    theirs = create_agent(business=other_business, name="x")

    response = api_as("admin").post("/api/v1/alert-rules", {**RULE, "agent": theirs.pk}, format="json")

    assert response.json()["fields"] == {"agent": ["No such agent in this business."]}


def test_it_changes_and_deletes_a_rule(api_as, business):
    admin = api_as("admin")
    rule_id = admin.post("/api/v1/alert-rules", RULE, format="json").json()["id"]

    patched = admin.patch(f"/api/v1/alert-rules/{rule_id}", {"enabled": False}, format="json")
    assert patched.status_code == 200
    assert AlertRule.objects.get().enabled is False
    assert api_as("viewer").delete(f"/api/v1/alert-rules/{rule_id}").status_code == 403
    assert admin.delete(f"/api/v1/alert-rules/{rule_id}").status_code == 204
    assert not AlertRule.objects.exists()
    assert AuditEntry.objects.filter(action__startswith="alert_rule.").count() == 3


def test_it_lists_alerts_by_state(viewer_api, business, other_business):
    rule = AlertRule.objects.create(business=business, name="r", kind="cost_burn")
    theirs = AlertRule.objects.create(business=other_business, name="r", kind="cost_burn")
    Alert.objects.create(rule=rule, business=business, subject="business", message="open")
    Alert.objects.create(
        rule=rule, business=business, subject="agent:1", message="closed", resolved_at="2025-03-10T10:00:00Z"
    )
    Alert.objects.create(rule=theirs, business=other_business, subject="business", message="theirs")

    firing = viewer_api.get("/api/v1/alerts?state=firing").json()["results"]
    every = viewer_api.get("/api/v1/alerts").json()["results"]

    assert [(a["message"], a["state"], a["kind"]) for a in firing] == [("open", "firing", "cost_burn")]
    assert [a["message"] for a in every] == ["closed", "open"]
    assert viewer_api.get("/api/v1/alert-rules").json()["results"][0]["name"] == "r"
