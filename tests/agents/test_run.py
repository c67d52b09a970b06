import pytest

from executions.models import Execution
from governance.stops import engage_emergency_stop

pytestmark = pytest.mark.django_db


def test_an_operator_runs_an_agent_by_hand(operator_api, agent):
    response = operator_api.post(f"/api/v1/agents/{agent.pk}/run", {"input": {"ticket": 7}}, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "pending" and body["trigger"] == "manual"
    execution = Execution.objects.get(pk=body["id"])
    assert execution.agent == agent and execution.input == {"ticket": 7}
    assert execution.requested_by == operator_api.user.username


def test_a_viewer_cannot_run_an_agent(viewer_api, agent):
    assert viewer_api.post(f"/api/v1/agents/{agent.pk}/run", {}, format="json").status_code == 403
    assert not Execution.objects.exists()


def test_a_run_is_refused_under_an_emergency_stop(operator_api, agent, business, make_member):
    engage_emergency_stop(business=business, reason="incident", actor=make_member("owner", business))
    response = operator_api.post(f"/api/v1/agents/{agent.pk}/run", {}, format="json")
    assert response.status_code == 423 and response.json()["error"] == "emergency_stop"
    assert not Execution.objects.exists()


def test_a_run_needs_an_object_input(operator_api, agent):
    response = operator_api.post(f"/api/v1/agents/{agent.pk}/run", {"input": [1, 2]}, format="json")
    assert response.status_code == 400 and "input" in response.json()["fields"]
