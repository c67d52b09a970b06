import pytest

from executions.models import Execution
from governance.models import AuditEntry
from tests.executions.conftest import report


def replay(client, pk):
    return client.post(f"/api/v1/executions/{pk}/replay")


@pytest.fixture
def failed(agent_api):
    return report(agent_api, status="failed", input={"doc": 9}, error="boom").json()["id"]


@pytest.mark.django_db
def test_it_replays_a_failed_execution_as_a_new_linked_one(operator_api, failed):
    response = replay(operator_api, failed)
    assert response.status_code == 201
    body = response.json()
    assert body["id"] != failed and body["status"] == "pending" and body["trigger"] == "manual"
    assert body["input"] == {"doc": 9} and body["replay_of"] == failed and body["retry_count"] == 1
    assert Execution.objects.get(pk=failed).status == "failed"  # the original stays as it was
    assert AuditEntry.objects.filter(action="execution.replay", target_id=str(failed)).exists()


@pytest.mark.django_db
def test_replaying_a_replay_keeps_the_chain(operator_api, agent_api, failed):
    second = replay(operator_api, failed).json()["id"]
    agent_api.patch(f"/api/v1/executions/{second}", {"status": "aborted"}, format="json")
    third = replay(operator_api, second).json()
    assert third["replay_of"] == second and third["retry_count"] == 2
    chain = operator_api.get(f"/api/v1/executions/?replay_of={failed}").json()["results"]
    assert [e["id"] for e in chain] == [second]


@pytest.mark.django_db
def test_only_failed_or_aborted_executions_can_be_replayed(operator_api, agent_api):
    for body in ({"status": "success"}, {"input": {}}):
        pk = report(agent_api, **body).json()["id"]
        response = replay(operator_api, pk)
        assert response.status_code == 409
        assert response.json()["error"] == "not_replayable"


@pytest.mark.django_db
def test_a_viewer_cannot_replay(viewer_api, failed):
    assert replay(viewer_api, failed).status_code == 403
    assert Execution.objects.count() == 1
