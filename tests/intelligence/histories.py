"""Constructed histories for the advice tests: workflow runs with their step executions, cron runs,
written straight to the tables as the engine and the ledger leave them."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from executions.models import Execution
from workflows.models import WorkflowRun

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def step_execution(
    workflow,
    *,
    step: str,
    agent,
    run=None,
    status="success",
    duration_s=10.0,
    cost="0.001",
    retry_count=0,
    error_type="",
    at=None,
    wait_s=1.0,
    n=[0],
):
    n[0] += 1
    run = run or WorkflowRun.objects.create(
        workflow=workflow, version=workflow.current_version, business=workflow.business, status="success"
    )
    at = at or NOW - timedelta(days=1, minutes=n[0])
    return Execution.objects.create(
        business=workflow.business,
        agent=agent,
        trigger="workflow",
        status=status,
        workflow_run_id=run.pk,
        workflow_step=step,
        retry_count=retry_count,
        attempt=retry_count + 1,
        error_type=error_type if status == "failed" else "",
        created_at=at - timedelta(seconds=wait_s),
        started_at=at,
        finished_at=at + timedelta(seconds=duration_s),
        duration_ms=int(duration_s * 1000),
        cost_usd=Decimal(cost),
    )


def plain_execution(agent, *, at, status="success", cron_job=None, wait_s=1.0):
    return Execution.objects.create(
        business=agent.business,
        agent=agent,
        trigger="cron" if cron_job else "manual",
        status=status,
        cron_job_id=cron_job.pk if cron_job else None,
        created_at=at - timedelta(seconds=wait_s),
        started_at=at,
        finished_at=at + timedelta(seconds=5),
        duration_ms=5000,
    )
