from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from agents.models import AgentCommand
from executions import abort
from executions.models import Execution
from executions.services import force_overdue_aborts, start_execution
from governance.models import AuditEntry, BudgetReservation
from mission_control.models import Event
from tests.executions.conftest import report


def abort_via_api(client, pk, **body):
    return client.post(f"/api/v1/executions/{pk}/abort", body, format="json")


@pytest.fixture
def revoked(monkeypatch):
    calls = []
    monkeypatch.setattr(abort, "revoke", calls.append)
    return calls


@pytest.mark.django_db
def test_a_pending_execution_aborts_at_once(
    operator_api, pull_agent, revoked, django_capture_on_commit_callbacks
):
    execution = start_execution(agent=pull_agent, trigger="manual")
    with django_capture_on_commit_callbacks(execute=True):
        response = abort_via_api(operator_api, execution.pk, reason="wrong input")
    assert response.status_code == 202
    assert response.json()["status"] == "aborted" and response.json()["error"] == "wrong input"
    assert BudgetReservation.objects.get(ref=f"execution:{execution.pk}").status == "released"
    assert Event.objects.filter(kind="execution.aborted", execution_id=execution.pk).exists()
    assert AuditEntry.objects.filter(action="execution.abort", target_id=str(execution.pk)).exists()
    assert revoked == [execution.dispatch_task_id]


@pytest.mark.django_db
def test_a_running_execution_is_asked_to_stop_through_its_agent(operator_api, agent_api, agent):
    pk = report(agent_api, input={}).json()["id"]
    response = abort_via_api(operator_api, pk)
    assert response.status_code == 202
    assert response.json()["status"] == "running" and response.json()["abort_requested_at"]
    command = AgentCommand.objects.get(agent=agent, type="abort")
    assert command.args == {"execution": pk}
    assert Event.objects.filter(kind="execution.abort_requested", execution_id=pk).exists()
    abort_via_api(operator_api, pk)  # asking twice queues nothing more
    assert AgentCommand.objects.filter(agent=agent, type="abort").count() == 1


@pytest.mark.django_db
def test_the_agent_may_report_the_abort_itself(operator_api, agent_api):
    pk = report(agent_api, input={}).json()["id"]
    abort_via_api(operator_api, pk)
    response = agent_api.patch(f"/api/v1/executions/{pk}", {"status": "aborted"}, format="json")
    assert response.json()["status"] == "aborted"


@pytest.mark.django_db
@override_settings(MC_ABORT_GRACE_S=30)
def test_a_running_execution_is_aborted_forcibly_after_the_grace_period(
    operator_api, agent_api, revoked, django_capture_on_commit_callbacks
):
    pk = report(agent_api, input={}).json()["id"]
    abort_via_api(operator_api, pk, reason="runaway")
    assert force_overdue_aborts() == 0  # still within the grace period
    with (
        time_machine.travel(timezone.now() + timedelta(seconds=31)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert force_overdue_aborts() == 1
    row = Execution.objects.get(pk=pk)
    assert row.status == "aborted"
    assert "runaway" in row.error and "did not stop within 30 s" in row.error
    assert revoked == [row.dispatch_task_id]


@pytest.mark.django_db
def test_a_finished_execution_cannot_be_aborted(operator_api, agent_api):
    pk = report(agent_api, status="success").json()["id"]
    response = abort_via_api(operator_api, pk)
    assert response.status_code == 409
    assert response.json()["error"] == "not_abortable"


@pytest.mark.django_db
def test_viewers_and_agents_cannot_abort(viewer_api, agent_api):
    pk = report(agent_api, input={}).json()["id"]
    assert abort_via_api(viewer_api, pk).status_code == 403
    assert abort_via_api(agent_api, pk).status_code == 403
    assert Execution.objects.get(pk=pk).abort_requested_at is None


@pytest.mark.django_db
def test_an_emergency_stop_aborts_the_work_in_its_scope(
    business, other_business, pull_agent, agent_api, make_agent
):
    from governance.stops import engage_emergency_stop

    pending = start_execution(agent=pull_agent, trigger="manual")
    running = report(agent_api, input={}).json()["id"]
    elsewhere = start_execution(agent=make_agent("far", on=other_business), trigger="manual")
    engage_emergency_stop(business=business, reason="drill", actor="system")
    assert Execution.objects.get(pk=pending.pk).status == "aborted"
    assert "Emergency stop: drill" in Execution.objects.get(pk=pending.pk).error
    assert Execution.objects.get(pk=running).abort_requested_at is not None
    assert Execution.objects.get(pk=elsewhere.pk).status == "pending"


@pytest.mark.django_db
def test_a_global_emergency_stop_covers_every_business(other_business, make_agent):
    from governance.stops import engage_emergency_stop

    far = start_execution(agent=make_agent("far", on=other_business), trigger="manual")
    engage_emergency_stop(business=None, reason="all hands", actor="system")
    assert Execution.objects.get(pk=far.pk).status == "aborted"
