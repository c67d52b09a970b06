"""Queues, bottlenecks and stuck work on the known ledger (see conftest), at 2025-03-10 12:30 UTC."""

import pytest
import time_machine

from tests.observability.conftest import at

pytestmark = pytest.mark.django_db


def _workload(api, query="business=acme"):
    response = api.get(f"/api/v1/dashboard/workload?{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_it_shows_queue_depth_and_waits_per_agent(viewer_api, ledger, travel):
    queue = {row["name"]: row for row in _workload(viewer_api)["queue"]}

    assert (queue["coder-1"]["queued"], queue["coder-1"]["running"]) == (2, 1)
    assert queue["coder-1"]["oldest_wait_s"] == 300
    assert (queue["writer-1"]["queued"], queue["writer-1"]["oldest_wait_s"]) == (1, 180)


def test_it_sums_queues_per_capability(viewer_api, ledger, travel):
    capabilities = _workload(viewer_api)["capabilities"]

    assert [c["capability"] for c in capabilities] == ["code", "review", "write"]
    code, _, write = capabilities
    assert (code["agents"], code["online"], code["queued"], code["running"], code["oldest_wait_s"]) == (
        1,
        1,
        2,
        1,
        300,
    )
    assert (write["agents"], write["online"], write["queued"], write["oldest_wait_s"]) == (1, 0, 1, 180)
    assert (code["avg_wait_ms"], write["avg_wait_ms"]) == (0, 0)  # the ledger's runs started as created


def test_it_averages_the_wait_before_work_started(viewer_api, agent, make_execution, travel):
    make_execution(trigger="manual", created_at=at(11), started_at=at(11, 0, 30), finished_at=at(11, 1))
    make_execution(trigger="manual", created_at=at(11), started_at=at(11, 1, 30), finished_at=at(11, 2))

    body = _workload(viewer_api)

    assert body["queue"][0]["avg_wait_ms"] == 60_000
    assert [c["avg_wait_ms"] for c in body["capabilities"]] == [60_000, 60_000]


def test_it_ranks_the_slowest_and_most_failing_agents(viewer_api, ledger, travel):
    body = _workload(viewer_api)

    assert [(r["name"], r["avg_duration_ms"]) for r in body["slowest_agents"]] == [
        ("coder-1", 1_200_000),
        ("writer-1", 1_050_000),
    ]
    assert [(r["name"], r["failure_rate"]) for r in body["failing_agents"]] == [("coder-1", 0.5)]


def test_it_ranks_cron_jobs_and_workflow_steps(viewer_api, ledger, make_execution, travel):
    make_execution(
        workflow_step="classify",
        status="failed",
        started_at=at(11),
        finished_at=at(11, 0, 30),
        duration_ms=30_000,
    )

    body = _workload(viewer_api)

    (cron,) = body["failing_cron_jobs"]
    assert (cron["cron_job"], cron["executions"], cron["failed"], cron["failure_rate"]) == (3, 2, 1, 0.5)
    assert body["slowest_cron_jobs"][0]["avg_duration_ms"] == 1_200_000
    (step,) = body["failing_workflow_steps"]
    assert (step["workflow"], step["step"], step["failure_rate"], step["max_duration_ms"]) == (
        None,
        "classify",
        1.0,
        30_000,
    )


def test_it_lists_executions_stuck_longer_than_asked(viewer_api, ledger, travel):
    stuck = _workload(viewer_api, "business=acme&stuck_after=5m")["stuck_executions"]

    assert [(s["status"], s["for_s"]) for s in stuck] == [("running", 600)]
    assert _workload(viewer_api, "business=acme&stuck_after=1h")["stuck_executions"] == []


def test_it_lists_tasks_stuck_in_a_status(viewer_api, business, travel):
    from board.models import Task

    with time_machine.travel(at(10), tick=False):
        old = Task.objects.create(business=business, title="Draft the report", status="in_progress")
        Task.objects.create(business=business, title="Shipped", status="done")
    Task.objects.create(business=business, title="Fresh", status="in_progress")

    stuck = _workload(viewer_api, "business=acme&stuck_after=1h")["stuck_tasks"]

    assert [(s["task"], s["status"], s["for_s"]) for s in stuck] == [(old.pk, "in_progress", 9000)]


def test_it_refuses_a_bad_stuck_after(viewer_api, travel):
    response = viewer_api.get("/api/v1/dashboard/workload?stuck_after=soon")

    assert response.status_code == 400
    assert "stuck_after" in response.json()["fields"]


def test_it_costs_a_fixed_number_of_queries(viewer_api, ledger, travel, django_assert_max_num_queries):
    viewer_api.get("/api/v1/dashboard/workload")
    with django_assert_max_num_queries(12):
        viewer_api.get("/api/v1/dashboard/workload")
