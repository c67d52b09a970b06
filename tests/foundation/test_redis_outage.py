"""A Redis outage (issue 13, item 4): everything that needs only PostgreSQL keeps answering.

Redis is made unreachable for real: the cache, the channel layer and the Celery broker are pointed at
a port nothing listens on (or at a private redis-server that is paused, so that calls hang instead of
failing at once). Tasks are sent to the broker, not run eagerly, as in production.
"""

import os
import signal
import socket
import subprocess
import time

import pytest
from django.core.cache import cache

from agents.services import create_agent
from executions.models import Execution, ExecutionLog, Status
from mission_control import redis_outage
from mission_control.celery import app as celery_app
from tests.conftest import agent_client
from workflows.tasks import advance_run

# transaction=True: on-commit hooks (events, task enqueues) run as in production.
pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def point_redis_at(settings, url: str) -> None:
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": url,
            "OPTIONS": {**settings.CACHES["default"].get("OPTIONS", {})},
        }
    }
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {**settings.CHANNEL_LAYERS["default"]["CONFIG"], "hosts": [{"address": url}]},
        }
    }
    celery_app.conf.broker_url = url
    celery_app.conf.task_always_eager = False
    celery_app._pool = None


@pytest.fixture
def redis_down(settings):
    broker, eager = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    redis_outage.reset()
    point_redis_at(settings, f"redis://127.0.0.1:{free_port()}/0")
    yield
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = broker, eager
    celery_app._pool = None
    redis_outage.reset()


def test_it_reports_cache_and_broker_down_in_health(redis_down, client):
    response = client.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["failing"] == ["cache", "broker"]


def test_an_agent_works_through_the_outage(redis_down, agent, operator_api):
    api = agent_client(agent)
    assert api.post("/api/v1/agent/heartbeat", {"status": "idle"}, format="json").status_code == 200
    started = operator_api.post(f"/api/v1/agents/{agent.pk}/run", {"input": {"q": 1}}, format="json")
    assert started.status_code == 202, started.content
    claimed = api.post("/api/v1/agent/executions/claim", {"wait_seconds": 0}, format="json")
    assert claimed.status_code == 200, claimed.content
    pk = claimed.json()["id"]
    logs = api.post(f"/api/v1/executions/{pk}/logs", [{"kind": "log", "message": "hi"}], format="json")
    assert logs.status_code in (200, 201), logs.content
    done = api.patch(
        f"/api/v1/executions/{pk}/",
        {"status": "success", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 5},
        format="json",
    )
    assert done.status_code == 200, done.content
    reported = api.post(
        "/api/v1/executions/", {"status": "success", "model": "gpt-4o", "external_id": "x-1"}, format="json"
    )
    assert reported.status_code == 201, reported.content
    assert Execution.objects.get(pk=pk).status == Status.SUCCESS
    assert ExecutionLog.objects.filter(execution_id=pk).count() == 1


def test_operators_read_and_act_through_the_outage(redis_down, operator_api, agent, business):
    for path in ["/api/v1/businesses", "/api/v1/agents", "/api/v1/executions", "/api/v1/events"]:
        assert operator_api.get(path).status_code == 200, path
    push = create_agent(business=business, name="pusher", mode="push", endpoint_url="https://agent.example/")
    started = operator_api.post(f"/api/v1/agents/{push.pk}/run", {"input": {}}, format="json")
    assert started.status_code == 202, started.content  # the stale-dispatch sweep sends it later
    aborted = operator_api.post(f"/api/v1/executions/{started.json()['id']}/abort", {}, format="json")
    assert aborted.status_code in (200, 202), aborted.content


def test_sign_in_keeps_working_through_the_outage(redis_down, make_member):
    from rest_framework.test import APIClient

    make_member("viewer", None, username="dana")
    body = {"username": "dana", "password": "pw-secret-123"}
    assert APIClient().post("/api/v1/auth/token", body, format="json").status_code == 200


def test_the_limits_come_back_with_redis(settings, operator_api):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "operator": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    redis_outage.reset()
    assert [operator_api.get("/api/v1/businesses").status_code for _ in range(3)] == [200, 200, 429]


@pytest.fixture
def paused_redis(settings, tmp_path):
    """A private redis-server, stopped with SIGSTOP: connections open, nothing ever answers."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        broker, eager = celery_app.conf.broker_url, celery_app.conf.task_always_eager
        redis_outage.reset()
        point_redis_at(settings, f"redis://127.0.0.1:{port}/0")
        cache.set("warm", 1)  # connected while it was up
        os.kill(server.pid, signal.SIGSTOP)
        yield server
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.terminate()
        server.wait(10)
        celery_app.conf.broker_url, celery_app.conf.task_always_eager = broker, eager
        celery_app._pool = None
        redis_outage.reset()


def test_a_hung_redis_costs_one_timeout_not_one_per_request(paused_redis, agent):
    api = agent_client(agent)
    started = time.monotonic()
    codes = [
        api.post("/api/v1/agent/heartbeat", {"status": "idle"}, format="json").status_code for _ in range(20)
    ]
    elapsed = time.monotonic() - started
    assert codes == [200] * 20
    # One timeout per request would be 20 s (1 s socket timeout each); the bound leaves room for a
    # loaded CI machine without letting that through.
    assert elapsed < 10, f"20 heartbeats took {elapsed:.1f} s with Redis hung"


def test_a_hung_broker_does_not_hold_up_starting_work(paused_redis, operator_api, business):
    push = create_agent(business=business, name="pusher", mode="push", endpoint_url="https://agent.example/")
    started = time.monotonic()
    response = operator_api.post(f"/api/v1/agents/{push.pk}/run", {"input": {}}, format="json")
    elapsed = time.monotonic() - started
    assert response.status_code == 202, response.content
    print(f"starting work with the broker hung: {elapsed:.2f} s")
    assert elapsed < 8, f"starting work took {elapsed:.1f} s with the broker hung"


def test_workflow_steps_finish_through_the_outage(redis_down, api_as, agent):
    admin, operator, api = api_as("admin"), api_as("operator"), agent_client(agent)
    # Capability steps go to online agents only: the agent beats (through the outage) as a running one does.
    assert api.post("/api/v1/agent/heartbeat", {"status": "idle"}, format="json").status_code == 200
    definition = {
        "steps": [{"id": "a", "capability": "code"}, {"id": "b", "capability": "code", "depends_on": ["a"]}]
    }
    workflow = admin.post(
        "/api/v1/workflows/", {"business": "acme", "name": "flow", "definition": definition}, format="json"
    )
    assert workflow.status_code == 201, workflow.content
    run = operator.post(f"/api/v1/workflows/{workflow.json()['id']}/runs", {"input": {}}, format="json")
    assert run.status_code == 201, run.content
    advance_run(run.json()["id"])  # what the run sweep does once the broker is back
    work = api.post("/api/v1/agent/executions/claim", {"wait_seconds": 0}, format="json").json()
    done = api.patch(f"/api/v1/executions/{work['id']}/", {"status": "success"}, format="json")
    assert done.status_code == 200, done.content  # the run sweep advances the run once Redis is back
