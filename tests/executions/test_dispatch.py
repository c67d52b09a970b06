import json
import threading

import pytest
from django.test import override_settings
from mission_control_sdk import SIGNATURE_HEADER, verify_signature

from executions.dispatch import deliver, signing_secret
from executions.services import start_execution
from executions.tasks import dispatch_execution
from mission_control.models import Event


@pytest.fixture
def push_agent(make_agent, push_server):
    server = push_server()
    agent = make_agent("pusher", mode="push", endpoint_url=server.url)
    agent.server = server
    return agent


def start(agent, capture, **kwargs):
    with capture(execute=True):
        return start_execution(agent=agent, trigger="manual", input={"task": "go"}, **kwargs)


@pytest.mark.django_db
def test_a_push_agent_gets_a_signed_post_and_the_execution_runs(
    push_agent, django_capture_on_commit_callbacks
):
    execution = start(push_agent, django_capture_on_commit_callbacks)
    [request] = push_agent.server.requests
    assert verify_signature(signing_secret(push_agent), request["body"], request["headers"][SIGNATURE_HEADER])
    assert request["json"]["execution"]["id"] == execution.pk
    assert request["json"]["execution"]["input"] == {"task": "go"}
    execution.refresh_from_db()
    assert execution.status == "running" and execution.started_at is not None
    assert Event.objects.filter(kind="execution.started", execution_id=execution.pk).exists()


@pytest.mark.django_db
def test_a_tampered_body_does_not_verify(push_agent, django_capture_on_commit_callbacks):
    start(push_agent, django_capture_on_commit_callbacks)
    [request] = push_agent.server.requests
    tampered = json.dumps({**request["json"], "delivery": 99}).encode()
    assert not verify_signature(signing_secret(push_agent), tampered, request["headers"][SIGNATURE_HEADER])


@pytest.mark.django_db
def test_a_duplicated_celery_message_never_runs_the_work_twice(
    push_agent, django_capture_on_commit_callbacks
):
    execution = start(push_agent, django_capture_on_commit_callbacks)
    dispatch_execution.apply(args=(execution.pk,))  # the broker redelivers the same message
    dispatch_execution.apply(args=(execution.pk,))
    assert len(push_agent.server.requests) == 1
    assert Event.objects.filter(kind="execution.started", execution_id=execution.pk).count() == 1


@pytest.mark.django_db
@override_settings(MC_PUSH_TIMEOUT_S=0.2, MC_PUSH_MAX_ATTEMPTS=2)
def test_a_push_agent_that_times_out_is_retried_then_failed_with_a_clear_error(
    make_agent, push_server, django_capture_on_commit_callbacks
):
    server = push_server(delay=2.0)
    agent = make_agent("sleepy", mode="push", endpoint_url=server.url)
    execution = start(agent, django_capture_on_commit_callbacks)
    execution.refresh_from_db()
    assert len(server.requests) == 2
    assert execution.status == "failed" and execution.error_type == "dispatch_failed"
    assert "failed after 2 attempt(s): no answer within 0.2 s" in execution.error
    assert Event.objects.filter(kind="execution.failed", execution_id=execution.pk).exists()


@pytest.mark.django_db
def test_a_refusing_agent_is_not_retried(make_agent, push_server, django_capture_on_commit_callbacks):
    server = push_server(status=401)
    agent = make_agent("strict", mode="push", endpoint_url=server.url)
    execution = start(agent, django_capture_on_commit_callbacks)
    execution.refresh_from_db()
    assert len(server.requests) == 1
    assert execution.status == "failed" and "HTTP 401" in execution.error


@pytest.mark.django_db
def test_a_push_agent_without_an_endpoint_fails_at_once(make_agent, django_capture_on_commit_callbacks):
    from agents.models import Agent

    agent = make_agent("nowhere", mode="push", endpoint_url="http://127.0.0.1:9/")
    Agent.objects.filter(pk=agent.pk).update(endpoint_url="")  # edited behind the API's back
    agent.refresh_from_db()
    execution = start(agent, django_capture_on_commit_callbacks)
    execution.refresh_from_db()
    assert execution.status == "failed" and "no endpoint_url" in execution.error


@pytest.mark.django_db
def test_pull_agents_get_no_post(pull_agent, django_capture_on_commit_callbacks):
    execution = start(pull_agent, django_capture_on_commit_callbacks)
    assert deliver(execution.pk) == "pull"
    execution.refresh_from_db()
    assert execution.status == "pending"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_duplicate_messages_arriving_together_post_once(make_agent, push_server, monkeypatch):
    from django.db import connection

    server = push_server(delay=0.3)  # the first POST is still in flight when the others arrive
    agent = make_agent("pusher", mode="push", endpoint_url=server.url)
    monkeypatch.setattr("executions.lifecycle.enqueue_dispatch", lambda execution: None)
    execution = start_execution(agent=agent, trigger="manual")

    def duplicate_message():
        try:
            deliver(execution.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=duplicate_message) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(server.requests) == 1
    execution.refresh_from_db()
    assert execution.status == "running" and execution.delivery_attempts == 1


@pytest.mark.django_db
def test_it_sends_a_relative_report_url_without_a_public_url(push_agent, django_capture_on_commit_callbacks):
    execution = start(push_agent, django_capture_on_commit_callbacks)
    [request] = push_agent.server.requests
    assert request["json"]["report_url"] == f"/api/v1/executions/{execution.pk}"


@pytest.mark.django_db
@override_settings(MC_PUBLIC_URL="https://mc.example.com")
def test_it_sends_an_absolute_report_url_with_a_public_url(push_agent, django_capture_on_commit_callbacks):
    execution = start(push_agent, django_capture_on_commit_callbacks)
    [request] = push_agent.server.requests
    assert request["json"]["report_url"] == f"https://mc.example.com/api/v1/executions/{execution.pk}"
