import pytest

from executions.models import Execution
from executions.services import start_execution
from executions.signals import execution_finished
from governance.models import BudgetReservation
from mission_control.models import Event
from tests.conftest import agent_client
from tests.executions.conftest import report


def patch(client, pk, **body):
    return client.patch(f"/api/v1/executions/{pk}/", body, format="json")


@pytest.fixture
def running(agent_api):
    return report(agent_api, input={"q": 1}).json()["id"]


@pytest.mark.django_db
def test_it_moves_a_running_execution_to_success_with_usage(agent_api, running):
    response = patch(
        agent_api,
        running,
        status="success",
        output={"answer": 42},
        model="gpt-4o",
        model_provider="openai",
        input_tokens=1000,
        output_tokens=100,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success" and body["output"] == {"answer": 42}
    assert body["cost_source"] == "computed" and body["finished_at"] and body["duration_ms"] is not None
    assert Event.objects.filter(kind="execution.succeeded", execution_id=running).exists()
    assert BudgetReservation.objects.get(ref=f"execution:{running}").status == "settled"


@pytest.mark.django_db
def test_a_failure_keeps_its_error(agent_api, running):
    body = patch(agent_api, running, status="failed", error="rate limited", error_type="rate_limit").json()
    assert body["status"] == "failed" and body["error"] == "rate limited"
    assert Event.objects.filter(kind="execution.failed", execution_id=running).exists()


@pytest.mark.django_db
def test_partial_updates_keep_it_running(agent_api, running):
    body = patch(agent_api, running, input_tokens=50, output_tokens=5, model="gpt-4o").json()
    assert body["status"] == "running" and body["input_tokens"] == 50
    row = Execution.objects.get(pk=running)
    assert row.last_seen_at is not None


@pytest.mark.django_db
def test_it_cannot_go_back_to_pending(agent_api, running):
    response = patch(agent_api, running, status="pending")
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_transition"


@pytest.mark.django_db(transaction=True)
def test_execution_finished_is_sent_after_commit(agent_api, running):
    seen = []

    def listener(sender, execution, **kwargs):
        seen.append((execution.pk, execution.status))

    execution_finished.connect(listener)
    try:
        patch(agent_api, running, status="success")
    finally:
        execution_finished.disconnect(listener)
    assert seen == [(running, "success")]


@pytest.mark.django_db
def test_another_agent_cannot_touch_it(make_agent, running):
    stranger = agent_client(make_agent())
    assert patch(stranger, running, status="success").status_code == 404


@pytest.mark.django_db
def test_a_viewer_cannot_patch_but_an_operator_can(viewer_api, operator_api, running):
    assert patch(viewer_api, running, status="failed").status_code == 403
    assert patch(operator_api, running, status="failed", error="stuck").status_code == 200


@pytest.mark.django_db
def test_cache_reads_are_checked_against_the_merged_row(agent_api, running):
    patch(agent_api, running, input_tokens=10)
    response = patch(agent_api, running, cache_read_tokens=20)
    assert response.status_code == 400
    assert Execution.objects.get(pk=running).cache_read_tokens == 0


@pytest.mark.django_db
def test_people_read_the_executions_of_their_businesses(viewer_api, running, other_business, make_member):
    from tests.conftest import client_for

    assert viewer_api.get(f"/api/v1/executions/{running}").status_code == 200
    assert [e["id"] for e in viewer_api.get("/api/v1/executions/").json()["results"]] == [running]
    stranger = client_for(make_member("owner", other_business))
    assert stranger.get(f"/api/v1/executions/{running}").status_code == 404
    assert stranger.get("/api/v1/executions/").json()["results"] == []
    assert stranger.get("/api/v1/executions/?business=acme").status_code == 404


@pytest.mark.django_db
def test_running_work_past_a_policy_cap_is_aborted_through_the_agent(agent_api, agent, business, running):
    from agents.models import AgentCommand
    from governance.models import ExecutionPolicy

    ExecutionPolicy.objects.create(business=business, agent_id=agent.pk, max_tokens_per_execution=1000)
    assert patch(agent_api, running, input_tokens=400, output_tokens=100).json()["abort_requested_at"] is None
    body = patch(agent_api, running, input_tokens=1400, output_tokens=100).json()
    assert body["status"] == "running" and body["abort_requested_at"]
    assert AgentCommand.objects.filter(agent=agent, type="abort", args={"execution": running}).exists()
    assert "Stopped by policy" in Execution.objects.get(pk=running).abort_reason


@pytest.mark.django_db
def test_it_gives_work_reported_straight_from_pending_to_success_a_start_time(make_agent, push_server):
    pusher = make_agent("reporter", mode="push", endpoint_url=push_server().url)
    execution = start_execution(agent=pusher, trigger="manual")  # pending: never enqueued here
    response = agent_client(pusher).patch(
        f"/api/v1/executions/{execution.pk}", {"status": "success", "output": {"ok": 1}}, format="json"
    )
    assert response.status_code == 200
    row = Execution.objects.get(pk=execution.pk)
    assert row.started_at is not None and row.duration_ms is not None
