"""Workflow runs: start, cancel, re-run, and finding the runs the clock made due.

A run is a state machine in the database (a run row and a step-run row per step) moved on by
:func:`workflows.engine.advance`, which runs when a run starts, whenever one of its executions
ends, and from the sweeper (retries that are due, timeouts, lost signals).
"""

import logging
from datetime import timedelta

from celery import signature
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from governance import audit
from governance.audit import actor_name
from governance.controls import active_stop
from mission_control.errors import DomainError
from workflows.engine import advance, end_run, event
from workflows.models import RunStatus, RunTrigger, StepRun, StepStatus, Workflow, WorkflowRun

__all__ = ["advance", "cancel_run", "due_run_ids", "rerun", "start_run"]

logger = logging.getLogger(__name__)

STALL_AFTER = timedelta(seconds=30)
# Enqueued by name: ``tasks.py`` sits on top of the app and imports the services, never the reverse.
ADVANCE_TASK = "workflows.tasks.advance_run"


def _enqueue_advance(run_id: int) -> None:
    transaction.on_commit(lambda: send_advance(run_id))


def send_advance(run_id: int) -> None:
    """Ask the worker to advance a run. With the broker down the change is already committed, so
    the caller still succeeds: the run sweep (``due_run_ids``: nothing moved for a while) advances it."""
    try:
        signature(ADVANCE_TASK).delay(run_id)
    except Exception:
        logger.warning("could not enqueue advance of workflow run %s; the sweep will", run_id, exc_info=True)


def _refuse_if_stopped(workflow: Workflow) -> None:
    stop = active_stop(workflow.business_id)
    if stop is not None:
        raise DomainError(
            "emergency_stop", "The emergency stop is engaged: no new work starts.", stop=stop.pk
        )


@transaction.atomic
def start_run(
    *,
    workflow: Workflow,
    input=None,
    trigger: str = RunTrigger.MANUAL,
    cron_job_id=None,
    actor=None,
) -> WorkflowRun:
    """Start a run on the workflow's current version; its steps start once this commits."""
    if input is not None and not isinstance(input, dict):
        raise DomainError(
            "validation_error", "input: Must be a JSON object.", fields={"input": ["Must be an object."]}
        )
    _refuse_if_stopped(workflow)
    version = workflow.current_version
    now = timezone.now()
    run = WorkflowRun.objects.create(
        workflow=workflow,
        version=version,
        business_id=workflow.business_id,
        status=RunStatus.RUNNING,
        trigger=trigger,
        input=input or {},
        cron_job_id=cron_job_id,
        requested_by=actor_name(actor),
        started_at=now,
    )
    StepRun.objects.bulk_create(
        [StepRun(run=run, step_id=s["id"], position=i) for i, s in enumerate(version.definition["steps"])]
    )
    event(run, "workflow.run_started", f"Workflow {workflow.name} started ({trigger})", trigger=trigger)
    _enqueue_advance(run.pk)
    return run


@transaction.atomic
def cancel_run(*, run: WorkflowRun, actor=None, reason: str = "") -> WorkflowRun:
    """Cancel a run that has not ended: running executions are aborted, nothing more starts."""
    run = (
        WorkflowRun.objects.select_for_update(of=("self",))
        .select_related("version", "business", "workflow")
        .get(pk=run.pk)
    )
    if run.is_terminal:
        raise DomainError("not_cancellable", f"Run #{run.pk} already ended ({run.status}).")
    reason = reason or f"Cancelled by {actor_name(actor)}."
    end_run(run, list(run.steps.select_related("execution")), RunStatus.CANCELLED, reason, actor=actor)
    audit.record(
        actor=actor,
        action="workflow_run.cancel",
        business=run.business,
        target_type="workflow_run",
        target_id=run.pk,
        after={"status": run.status},
        reason=reason,
    )
    return run


@transaction.atomic
def rerun(*, run: WorkflowRun, actor=None) -> WorkflowRun:
    """Start a new run of a failed (or cancelled) run's version and input, from its unfinished
    steps: steps that succeeded keep their outputs and are not run again."""
    if run.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
        raise DomainError(
            "not_rerunnable", f"Run #{run.pk} is {run.status}; only failed or cancelled runs re-run."
        )
    _refuse_if_stopped(run.workflow)
    now = timezone.now()
    new = WorkflowRun.objects.create(
        workflow_id=run.workflow_id,
        version_id=run.version_id,
        business_id=run.business_id,
        status=RunStatus.RUNNING,
        trigger=RunTrigger.RERUN,
        input=run.input,
        rerun_of=run,
        requested_by=actor_name(actor),
        started_at=now,
    )
    steps = []
    for old in run.steps.all():
        kept = old.status == StepStatus.SUCCESS
        steps.append(
            StepRun(
                run=new,
                step_id=old.step_id,
                position=old.position,
                status=StepStatus.SUCCESS if kept else StepStatus.PENDING,
                reused=kept,
                **(
                    {
                        "output": old.output,
                        "execution_id": old.execution_id,
                        "agent_id": old.agent_id,
                        "attempt": old.attempt,
                        "started_at": old.started_at,
                        "finished_at": old.finished_at,
                    }
                    if kept
                    else {}
                ),
            )
        )
    StepRun.objects.bulk_create(steps)
    kept = [s.step_id for s in steps if s.reused]
    event(new, "workflow.run_started", f"Run #{run.pk} re-run as #{new.pk}", rerun_of=run.pk, kept=kept)
    audit.record(
        actor=actor,
        action="workflow_run.rerun",
        business=run.business,
        target_type="workflow_run",
        target_id=run.pk,
        after={"rerun": new.pk, "kept": kept},
    )
    _enqueue_advance(new.pk)
    return new


def due_run_ids(now=None) -> list[int]:
    """Runs with something the clock made due: a retry's backoff elapsed, a step past its
    timeout, a step whose execution ended without the signal reaching us, or a run with nothing
    running that has not moved for a while (its advance message was lost, e.g. a broker restart)."""
    now = now or timezone.now()
    steps = StepRun.objects.filter(run__status=RunStatus.RUNNING).filter(
        Q(status=StepStatus.PENDING, next_attempt_at__lte=now)
        | Q(status=StepStatus.RUNNING, deadline_at__lte=now)
        | Q(status=StepStatus.RUNNING, execution__status__in=("success", "failed", "aborted"))
    )
    stalled = (
        WorkflowRun.objects.filter(status=RunStatus.RUNNING, started_at__lte=now - STALL_AFTER)
        .exclude(steps__status=StepStatus.RUNNING)
        .exclude(steps__next_attempt_at__gt=now)
    )
    due = set(steps.values_list("run_id", flat=True)) | set(stalled.values_list("pk", flat=True))
    return sorted(due)
