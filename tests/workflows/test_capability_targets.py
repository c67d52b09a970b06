"""Cron jobs and workflow steps that name a capability: each run is routed to the cheapest agent
that may take it (executions/routing.py), the decision stored with its execution."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agents.models import Agent
from executions.models import Execution, RoutingSettings
from observability.rollups import roll_up_execution
from workflows import cron, cron_firing
from workflows.models import CronRun, WorkflowRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def agents(business, make_agent):
    """Two online agents with ``digest``; ``cheap`` has a history at a tenth of ``dear``'s cost."""
    RoutingSettings.objects.create(business=business, explore_share=0)
    made = {}
    now = timezone.now()
    for name, cost in (("dear", "0.10"), ("cheap", "0.01")):
        agent = make_agent(name, capabilities=["digest"])
        Agent.objects.filter(pk=agent.pk).update(last_heartbeat=now, offline_after=now + timedelta(hours=1))
        for _ in range(10):
            done = Execution.objects.create(
                business=business, agent=agent, trigger="manual", status="success", cost_usd=Decimal(cost),
                cost_source="reported", started_at=now - timedelta(minutes=5), finished_at=now - timedelta(minutes=4),
            )  # fmt: skip
            roll_up_execution(done.pk)
        made[name] = agent
    return made


def test_a_cron_job_with_a_capability_runs_on_the_cheapest_agent(admin_api, business, agents):
    response = admin_api.post(
        "/api/v1/cron-jobs/",
        {"business": "acme", "name": "digest", "schedule": "*/5 * * * *", "capability": "digest"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["capability"] == "digest" and response.json()["agent"] is None
    run = cron_firing.run_now(job=cron.CronJob.objects.get(), actor=admin_api.user)
    execution = CronRun.objects.get(pk=run.pk).execution
    assert (execution.agent_id, execution.trigger) == (agents["cheap"].pk, "cron")
    assert execution.routing["chosen"] == agents["cheap"].pk


def test_a_cron_job_takes_exactly_one_target(admin_api, agents):
    body = {"business": "acme", "name": "x", "schedule": "*/5 * * * *", "capability": "digest"}
    response = admin_api.post("/api/v1/cron-jobs/", {**body, "agent": agents["cheap"].pk}, format="json")
    assert response.status_code == 400 and "agent" in response.json()["fields"]


def test_a_cron_run_with_no_eligible_agent_is_refused_with_the_reason(admin_api, business, agents):
    Agent.objects.update(desired_state="stopped")
    job = cron.create_job(business=business, name="digest", schedule="*/5 * * * *", capability="digest")
    cron_firing.fire(cron_job_id=job.pk)
    run = CronRun.objects.get()
    assert (run.status, run.reason) == ("refused", "no_eligible_agent")


def test_a_workflow_step_with_a_capability_is_routed(
    admin_api, operator_api, agents, django_capture_on_commit_callbacks
):
    steps = [{"id": "digest", "capability": "digest", "input": {"n": 1}}]
    workflow = admin_api.post(
        "/api/v1/workflows/", {"business": "acme", "name": "w", "definition": {"steps": steps}}, format="json"
    ).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):  # the run advances once its row is committed
        run = operator_api.post(f"/api/v1/workflows/{workflow}/runs", {"input": {}}, format="json").json()
    step = WorkflowRun.objects.get(pk=run["id"]).steps.get()
    assert step.execution.agent_id == agents["cheap"].pk
    assert step.execution.routing["reason"].startswith("cheapest per successful execution: cheap")
