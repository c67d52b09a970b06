"""Every running execution has a deadline (issue 13: work an agent reported itself and abandoned
stayed running for ever)."""

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from executions.models import Execution
from executions.services import configure_runs, fail_overdue
from tests.executions.conftest import report


@pytest.fixture
def admin(make_member, business):
    return make_member("admin", business)


@pytest.mark.django_db
def test_a_reported_execution_takes_its_agents_run_settings(agent_api, admin):
    configure_runs(agent=agent_api.agent, actor=admin, timeout_s=120, heartbeat_timeout_s=30)
    row = Execution.objects.get(pk=report(agent_api, status="running").json()["id"])
    assert (row.timeout_s, row.heartbeat_timeout_s) == (120, 30)
    assert row.deadline_at == row.started_at + timedelta(seconds=120)


@pytest.mark.django_db
@override_settings(MC_EXECUTION_TIMEOUT_S=3600, MC_EXECUTION_HEARTBEAT_TIMEOUT_S=300)
def test_a_reported_execution_without_run_settings_takes_the_global_defaults(agent_api):
    row = Execution.objects.get(pk=report(agent_api, status="running").json()["id"])
    assert (row.timeout_s, row.heartbeat_timeout_s) == (3600, 300)
    assert row.deadline_at is not None


@pytest.mark.django_db
def test_a_batch_of_running_reports_gets_deadlines_too(agent_api, admin):
    configure_runs(agent=agent_api.agent, actor=admin, timeout_s=90)
    agent_api.post("/api/v1/executions/batch", {"executions": [{"status": "running"}]}, format="json")
    assert Execution.objects.get().deadline_at is not None


@pytest.mark.django_db
@override_settings(MC_EXECUTION_HEARTBEAT_TIMEOUT_S=0)
def test_an_abandoned_reported_execution_is_failed_at_its_deadline(agent_api, admin):
    configure_runs(agent=agent_api.agent, actor=admin, timeout_s=60)
    pk = report(agent_api, status="running").json()["id"]
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert fail_overdue() == 1
    row = Execution.objects.get(pk=pk)
    assert (row.status, row.error_type) == ("failed", "timeout")


@pytest.mark.django_db
@override_settings(MC_EXECUTION_HEARTBEAT_TIMEOUT_S=300)
def test_an_abandoned_reported_execution_is_failed_when_it_falls_silent(agent_api):
    pk = report(agent_api, status="running").json()["id"]
    with time_machine.travel(timezone.now() + timedelta(seconds=301)):
        assert fail_overdue() == 1
    assert Execution.objects.get(pk=pk).error_type == "heartbeat_timeout"


@pytest.mark.django_db
@override_settings(MC_EXECUTION_TIMEOUT_S=600, MC_EXECUTION_HEARTBEAT_TIMEOUT_S=0)
def test_a_running_row_from_before_deadlines_gets_the_default_one(agent_api):
    pk = report(agent_api, status="running").json()["id"]
    Execution.objects.filter(pk=pk).update(timeout_s=None, deadline_at=None, heartbeat_timeout_s=None)
    assert fail_overdue() == 0
    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        assert fail_overdue() == 1
    assert "MC_EXECUTION_TIMEOUT_S" in Execution.objects.get(pk=pk).error
