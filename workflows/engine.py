"""The workflow engine: :func:`advance` moves a run on, holding its row lock.

``advance(run_id)`` reads every step-run and does whatever is due: it settles running steps whose
execution ended (or whose timeout passed), skips steps whose condition is false or whose
dependencies were all skipped, starts every other ready step as an execution, and finishes the run
when nothing is left. It derives everything from rows, so running it twice, or concurrently,
changes nothing the first did not (Celery's at-least-once delivery is harmless).
"""

import logging
from datetime import timedelta

import jmespath
from django.db import transaction
from django.utils import timezone
from jmespath.exceptions import JMESPathError

from agents.models import Agent, DesiredState
from executions.models import Trigger
from executions.routing import route_execution
from executions.services import abort_execution, start_execution
from mission_control.errors import DomainError
from mission_control.events import publish
from workflows.models import RunStatus, StepRun, StepStatus, WorkflowRun
from workflows.signals import workflow_run_finished

logger = logging.getLogger(__name__)

# The ledger must not retry a step's execution on its own: the step's retry policy does.
NO_LEDGER_RETRY = {"max_attempts": 1}


def event(run: WorkflowRun, kind: str, message: str, step: StepRun | None = None, **data) -> None:
    publish(
        kind=kind,
        business=run.business,
        agent_id=step.agent_id if step else None,
        execution_id=step.execution_id if step else None,
        actor=run.requested_by or "system",
        message=message,
        data={
            "workflow": run.workflow_id,
            "workflow_run": run.pk,
            "version": run.version.number,
            **({"step": step.step_id, "attempt": step.attempt, "status": step.status} if step else {}),
            **data,
        },
    )


def document(run: WorkflowRun, steps: dict[str, StepRun]) -> dict:
    """What ``when`` and ``$ref`` expressions read."""
    return {
        "input": run.input,
        "steps": {k: {"status": s.status, "output": s.output} for k, s in steps.items()},
    }


def render(value, doc: dict):
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            return jmespath.search(value["$ref"], doc)
        return {k: render(v, doc) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, doc) for v in value]
    return value


def advance(*, run_id: int) -> WorkflowRun | None:
    """Move a run on as far as it can go now (see the module docstring). Idempotent."""
    with transaction.atomic():
        run = (
            WorkflowRun.objects.select_for_update(of=("self",))
            .select_related("version", "business", "workflow")
            .filter(pk=run_id)
            .first()
        )
        if run is None or run.is_terminal:
            return run
        steps = {s.step_id: s for s in run.steps.select_related("execution")}
        spec = {s["id"]: s for s in run.version.definition["steps"]}
        now = timezone.now()
        for step in steps.values():
            if step.status == StepStatus.RUNNING:
                _observe(run, step, spec[step.step_id], now)
        progressed = True
        while progressed:  # a skip or an instant failure can make further steps ready
            progressed = False
            for step_id, definition in spec.items():
                step = steps[step_id]
                if step.status == StepStatus.PENDING and _settle_pending(
                    run, step, definition, steps, spec, now
                ):
                    progressed = True
        blocking = [
            s
            for s in steps.values()
            if s.status == StepStatus.FAILED and not spec[s.step_id]["continue_on_failure"]
        ]
        if blocking:
            end_run(
                run,
                list(steps.values()),
                RunStatus.FAILED,
                f"Step {blocking[0].step_id} failed: {blocking[0].error}",
            )
        elif all(s.is_terminal for s in steps.values()):
            end_run(run, list(steps.values()), RunStatus.SUCCESS, "", spec=spec)
    return run


def _settle_pending(run, step: StepRun, definition: dict, steps: dict, spec: dict, now) -> bool:
    """Decide a pending step: wait, skip, or start. True when its status changed."""
    if step.next_attempt_at and step.next_attempt_at > now:
        return False  # a retry waiting for its backoff
    deps = [steps[d] for d in definition["depends_on"]]
    if any(not d.is_terminal for d in deps):
        return False
    if any(d.status == StepStatus.FAILED and not spec[d.step_id]["continue_on_failure"] for d in deps):
        return False  # the run is failing
    if deps and all(d.status == StepStatus.SKIPPED for d in deps):
        return _skip(run, step, "every step it depends on was skipped")
    doc = document(run, steps)
    if definition["when"]:
        try:
            result = jmespath.search(definition["when"], doc)
        except JMESPathError as exc:
            return _fail(run, step, now, f"its condition could not be evaluated: {exc}")
        if _falsy(result):
            return _skip(run, step, f"condition is false: {definition['when']}")
    try:
        rendered = render(definition["input"], doc)
    except JMESPathError as exc:
        return _fail(run, step, now, f"its input could not be rendered: {exc}")
    _start_step(run, step, definition, rendered, now)
    return True


def _falsy(value) -> bool:
    """JMESPath's false values: null, false, and empty strings, arrays and objects (0 is true)."""
    return value is None or value is False or (isinstance(value, (str, list, dict)) and not value)


def _named_agent(run: WorkflowRun, definition: dict) -> Agent | None:
    return Agent.objects.filter(
        business_id=run.business_id, desired_state=DesiredState.RUNNING, pk=definition["agent"]
    ).first()


def _start_step(run: WorkflowRun, step: StepRun, definition: dict, rendered, now) -> None:
    step.attempt += 1
    step.next_attempt_at = None
    start = {
        "trigger": Trigger.WORKFLOW,
        "input": rendered,
        "actor": run.requested_by or None,
        "workflow_run_id": run.pk,
        "workflow_step": step.step_id,
        "retry_count": step.attempt - 1,
        "timeout_s": definition["timeout_s"],
        "retry_policy": NO_LEDGER_RETRY,
    }
    try:
        with transaction.atomic():
            if definition["agent"] is None:
                # A capability: the cheapest agent that may take it now (executions/routing.py).
                execution = route_execution(
                    business=run.business, capability=definition["capability"], **start
                )
            else:
                agent = _named_agent(run, definition)
                if agent is None:
                    _attempt_failed(
                        run, step, definition, now, f"no running agent for agent {definition['agent']}"
                    )
                    return
                execution = start_execution(agent=agent, **start)
    except DomainError as exc:
        # A stop ends the run's hopes; a budget, restriction or no eligible agent may pass, so it retries.
        retry = exc.code != "emergency_stop"
        _attempt_failed(run, step, definition, now, f"{exc.code}: {exc.detail}", retry=retry)
        return
    agent = execution.agent
    step.status = StepStatus.RUNNING
    step.execution = execution
    step.agent_id = agent.pk
    step.error = ""
    step.started_at = now
    step.deadline_at = now + timedelta(seconds=definition["timeout_s"]) if definition["timeout_s"] else None
    step.save()
    event(run, "workflow.step_started", f"Step {step.step_id} started on {agent.name}", step)


def _observe(run: WorkflowRun, step: StepRun, definition: dict, now) -> None:
    execution = step.execution
    if execution is not None and execution.status == "success":
        step.status = StepStatus.SUCCESS
        step.output = execution.output
        step.finished_at = now
        step.deadline_at = None
        step.save()
        event(run, "workflow.step_succeeded", f"Step {step.step_id} succeeded", step)
    elif execution is None or execution.is_terminal:
        error = (
            execution.error
            if execution is not None and execution.error
            else f"execution {getattr(execution, 'status', 'lost')}"
        )
        _attempt_failed(run, step, definition, now, error)
    elif step.deadline_at and step.deadline_at <= now:
        limit = definition["timeout_s"]
        _attempt_failed(run, step, definition, now, f"timed out after {limit} s")
        event(run, "workflow.step_timed_out", f"Step {step.step_id} timed out after {limit} s", step)
        _abort_quietly(execution, f"workflow step {step.step_id} timed out after {limit} s")


def _attempt_failed(run, step: StepRun, definition: dict, now, error: str, retry: bool = True) -> None:
    policy = definition["retry"]
    step.error = error[:2000]
    step.deadline_at = None
    if retry and step.attempt < policy["max_attempts"]:
        delay = policy["initial_interval_s"] * policy["backoff"] ** (step.attempt - 1)
        step.status = StepStatus.PENDING
        step.next_attempt_at = now + timedelta(seconds=delay)
        step.save()
        event(
            run,
            "workflow.step_retrying",
            f"Step {step.step_id} failed ({error[:120]}); retry in {delay:g} s",
            step,
        )
    else:
        step.status = StepStatus.FAILED
        step.finished_at = now
        step.save()
        event(
            run, "workflow.step_failed", f"Step {step.step_id} failed: {error[:200]}", step, error=error[:500]
        )


def _fail(run, step: StepRun, now, error: str) -> bool:
    step.attempt = max(step.attempt, 1)
    _attempt_failed(run, step, {"retry": {"max_attempts": 0}}, now, error, retry=False)
    return True


def _skip(run, step: StepRun, why: str) -> bool:
    step.status = StepStatus.SKIPPED
    step.error = ""
    step.finished_at = timezone.now()
    step.save()
    event(run, "workflow.step_skipped", f"Step {step.step_id} skipped: {why}", step, why=why)
    return True


def _abort_quietly(execution, reason: str, actor=None) -> None:
    if execution is None or execution.is_terminal:
        return
    try:
        abort_execution(execution=execution, actor=actor, reason=reason)
    except DomainError:  # it ended meanwhile
        logger.info("execution %s ended before it could be aborted", execution.pk)


def end_run(run: WorkflowRun, steps: list[StepRun], status: str, error: str, actor=None, spec=None) -> None:
    now = timezone.now()
    for step in steps:
        if step.status in (StepStatus.RUNNING, StepStatus.PENDING):
            if step.status == StepStatus.RUNNING:
                _abort_quietly(step.execution, f"workflow run {run.pk} {status}", actor)
            step.status = StepStatus.CANCELLED
            step.finished_at = now
            step.deadline_at = step.next_attempt_at = None
            step.save()
    if status == RunStatus.SUCCESS:
        leaves = set(spec) - {d for s in spec.values() for d in s["depends_on"]}
        run.output = {
            s.step_id: s.output for s in steps if s.step_id in leaves and s.status == StepStatus.SUCCESS
        }
    run.status = status
    run.error = error[:2000]
    run.finished_at = now
    run.save(update_fields=["status", "error", "output", "finished_at"])
    kind = {
        "success": "workflow.run_succeeded",
        "failed": "workflow.run_failed",
        "cancelled": "workflow.run_cancelled",
    }
    message = f"Workflow {run.workflow.name} run #{run.pk} {status}" + (f": {error[:200]}" if error else "")
    event(run, kind[status], message, status=status)
    transaction.on_commit(lambda: workflow_run_finished.send(sender=WorkflowRun, run=run))
