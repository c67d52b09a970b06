from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from agents.models import Agent
from executions import dispatch
from executions.models import Execution
from executions.services import configure_runs, fail_overdue, start_execution
from mission_control.models import Event


def running(agent, **kwargs) -> Execution:
    start_execution(agent=agent, trigger="manual", **kwargs)
    return dispatch.claim_next(agent_id=agent.pk)


@pytest.mark.django_db
def test_it_fails_an_execution_past_its_start_to_close_deadline(pull_agent):
    execution = running(pull_agent, timeout_s=60)
    assert execution.deadline_at == execution.started_at + timedelta(seconds=60)
    assert fail_overdue() == 0
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert fail_overdue() == 1
    execution.refresh_from_db()
    assert execution.status == "failed" and execution.error_type == "timeout"
    assert execution.error.startswith("Timed out: still running 60 s after it started")
    assert Event.objects.filter(kind="execution.failed", execution_id=execution.pk).exists()


@pytest.mark.django_db
def test_the_agents_default_deadline_applies_when_the_run_sets_none(pull_agent, make_member, business):
    configure_runs(agent=pull_agent, actor=make_member("admin", business), timeout_s=5)
    assert running(pull_agent).timeout_s == 5


@pytest.mark.django_db
def test_it_fails_a_silent_execution_past_its_heartbeat_deadline(pull_agent, make_member, business):
    configure_runs(agent=pull_agent, actor=make_member("admin", business), heartbeat_timeout_s=30)
    execution = running(pull_agent)
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        assert fail_overdue() == 1
    execution.refresh_from_db()
    assert execution.error_type == "heartbeat_timeout"
    assert execution.error.startswith("Heartbeat timeout: no sign of life for more than 30 s")


@pytest.mark.django_db
def test_an_agent_heartbeat_listing_the_execution_keeps_it_alive(pull_agent, make_member, business):
    configure_runs(agent=pull_agent, actor=make_member("admin", business), heartbeat_timeout_s=30)
    execution = running(pull_agent)
    later = timezone.now() + timedelta(seconds=31)
    Agent.objects.filter(pk=pull_agent.pk).update(last_heartbeat=later, running_executions=[execution.pk])
    with time_machine.travel(later + timedelta(seconds=1)):
        assert fail_overdue() == 0
    execution.refresh_from_db()
    assert execution.status == "running" and execution.last_seen_at == later


@pytest.mark.django_db
def test_a_failure_with_a_retry_policy_gets_a_linked_retry_with_backoff(pull_agent):
    policy = {"max_attempts": 3, "initial_interval_s": 10, "backoff": 3}
    first = running(pull_agent, retry_policy=policy, input={"x": 1})
    with time_machine.travel(timezone.now() + timedelta(seconds=3600), tick=False) as clock:
        Execution.objects.filter(pk=first.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
        fail_overdue()
        second = Execution.objects.get(retry_of=first)
        assert (second.status, second.attempt, second.retry_count, second.input) == (
            "pending",
            2,
            1,
            {"x": 1},
        )
        assert second.not_before == timezone.now() + timedelta(seconds=10)
        assert Event.objects.filter(kind="execution.retried", execution_id=second.pk).exists()
        assert dispatch.claim_next(agent_id=pull_agent.pk) is None  # backing off
        clock.shift(timedelta(seconds=11))
        assert dispatch.claim_next(agent_id=pull_agent.pk).pk == second.pk
        Execution.objects.filter(pk=second.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
        fail_overdue()
        third = Execution.objects.get(retry_of=second)
        assert third.attempt == 3 and third.not_before == timezone.now() + timedelta(seconds=30)


@pytest.mark.django_db
def test_retries_stop_at_max_attempts(agent_api, agent):
    start_execution(agent=agent, trigger="manual", retry_policy={"max_attempts": 1})
    pk = Execution.objects.get().pk
    agent_api.patch(f"/api/v1/executions/{pk}", {"status": "failed", "error": "boom"}, format="json")
    assert Execution.objects.count() == 1


@pytest.mark.django_db
def test_non_retryable_errors_are_not_retried(agent_api, agent):
    policy = {"max_attempts": 5, "non_retryable_errors": ["bad_input", "Invalid prompt"]}
    for error_type, error in (("bad_input", "x"), ("", "Invalid prompt: empty")):
        execution = start_execution(agent=agent, trigger="manual", retry_policy=policy)
        body = {"status": "failed", "error": error, "error_type": error_type}
        agent_api.patch(f"/api/v1/executions/{execution.pk}", body, format="json")
        assert not Execution.objects.filter(retry_of=execution).exists()
    retried = start_execution(agent=agent, trigger="manual", retry_policy=policy)
    agent_api.patch(f"/api/v1/executions/{retried.pk}", {"status": "failed", "error": "flaky"}, format="json")
    assert Execution.objects.filter(retry_of=retried).exists()


@pytest.mark.django_db
def test_a_retry_refused_by_governance_leaves_the_failure_as_the_last_word(agent_api, agent, business):
    from governance.stops import engage_emergency_stop

    execution = start_execution(agent=agent, trigger="manual", retry_policy={"max_attempts": 3})
    agent_api.patch(f"/api/v1/executions/{execution.pk}", {"status": "running"}, format="json")
    engage_emergency_stop(business=business, reason="drill", actor="system")
    agent_api.patch(f"/api/v1/executions/{execution.pk}", {"status": "failed"}, format="json")
    assert Execution.objects.count() == 1
    assert Event.objects.filter(kind="execution.retry_refused", execution_id=execution.pk).exists()
