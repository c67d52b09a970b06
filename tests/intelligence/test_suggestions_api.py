import pytest

from governance.roles import Role
from intelligence import suggestions
from tests.intelligence.histories import NOW, step_execution
from workflows.definitions import create_workflow


@pytest.fixture
def suggestion(business, agent):
    wf = create_workflow(
        business=business,
        name="p",
        definition={"steps": [{"id": "sum", "agent": agent.pk, "timeout_s": 3600}]},
    )
    for _ in range(25):
        step_execution(wf, step="sum", agent=agent)
    suggestions.refresh(business=business, now=NOW)
    return wf


@pytest.mark.django_db
def test_it_lists_suggestions_with_evidence_gain_and_state(viewer_api, suggestion):
    rows = viewer_api.get("/api/v1/suggestions/?business=acme&kind=timeout").json()["results"]
    assert len(rows) == 1
    row = rows[0]
    assert row["kind"] == "timeout" and row["state"] == "open" and row["applicable"] is True
    assert row["evidence"]["timeout_s"] == 3600 and row["expected_gain"]
    assert row["subject"] == f"workflow_step:{suggestion.pk}/sum"


@pytest.mark.django_db
def test_an_operator_may_not_apply(operator_api, suggestion):
    row = operator_api.get("/api/v1/suggestions").json()["results"][0]
    assert operator_api.post(f"/api/v1/suggestions/{row['id']}/apply").status_code == 403


@pytest.mark.django_db
def test_an_admin_applies_once(api_as, suggestion):
    admin = api_as(Role.ADMIN)
    row = admin.get("/api/v1/suggestions").json()["results"][0]
    applied = admin.post(f"/api/v1/suggestions/{row['id']}/apply")
    assert applied.status_code == 200
    assert applied.json()["state"] == "applied" and applied.json()["result"]["to_version"] == 2
    again = admin.post(f"/api/v1/suggestions/{row['id']}/dismiss")
    assert again.status_code == 409 and again.json()["error"] == "suggestion_not_open"


@pytest.mark.django_db
def test_a_stranger_gets_404(api_as, other_business, suggestion, viewer_api):
    row = viewer_api.get("/api/v1/suggestions").json()["results"][0]
    stranger = api_as(Role.OWNER, on=other_business)
    assert stranger.post(f"/api/v1/suggestions/{row['id']}/dismiss").status_code == 404
    assert stranger.get("/api/v1/suggestions?state=planet").json()["error"] == "invalid_parameter"
