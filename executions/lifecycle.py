"""The life of an execution: start (pending), run, finish.

Every transition publishes its event inside the caller's transaction. Every terminal one settles
the budget and, once the transaction commits, sends ``execution_finished``; a failed execution
whose retry policy allows it gets its next attempt as a new, linked ledger row.
"""

import logging
import uuid
from datetime import timedelta
from decimal import Decimal

from celery import signature
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents.models import Agent, AgentMode
from executions import claim_wakeups, pricing
from executions.estimates import estimate_for
from executions.models import (
    AgentRunSettings,
    CostSource,
    Execution,
    Status,
)
from executions.retry_policy import backoff_delay, is_retryable, validate_retry_policy
from executions.signals import execution_finished
from governance import audit, budgets, enforcement
from governance.access import is_agent
from governance.audit import actor_name
from mission_control.conflicts import retrying
from mission_control.errors import DomainError
from mission_control.events import publish

logger = logging.getLogger(__name__)

# Enqueued by name: ``tasks.py`` sits on top of the app and imports the services, never the reverse.
DISPATCH_TASK = "executions.tasks.dispatch_execution"

TERMINAL_EVENTS = {
    Status.SUCCESS: "execution.succeeded",
    Status.FAILED: "execution.failed",
    Status.ABORTED: "execution.aborted",
}


def budget_ref(execution_id: int) -> str:
    return f"execution:{execution_id}"


def announce(execution: Execution, kind: str, *, actor=None, message: str = "", data: dict | None = None):
    """Publish an execution's event (inside the caller's transaction)."""
    payload = {"status": execution.status, "trigger": execution.trigger, **(data or {})}
    return publish(
        kind=kind,
        business=execution.business,
        agent_id=execution.agent_id,
        execution_id=execution.pk,
        actor=actor_name(actor),
        message=message or f"Execution #{execution.pk} {execution.status}",
        data=payload,
    )


def run_settings(agent: Agent) -> AgentRunSettings | None:
    return AgentRunSettings.objects.filter(agent_id=agent.pk).first()


def deadlines(
    settings_row: AgentRunSettings | None, timeout_s: int | None = None
) -> tuple[int | None, int | None]:
    """``(timeout_s, heartbeat_timeout_s)`` for new work: what the caller asks (a cron job's max
    runtime), else the agent's run settings, else the global defaults. None only when a default
    is switched off (0)."""
    timeout = timeout_s or getattr(settings_row, "timeout_s", None) or settings.MC_EXECUTION_TIMEOUT_S
    silence = getattr(settings_row, "heartbeat_timeout_s", None) or settings.MC_EXECUTION_HEARTBEAT_TIMEOUT_S
    return timeout or None, silence or None


@retrying
def start_execution(
    *,
    agent: Agent,
    trigger: str,
    input: dict | None = None,
    actor=None,
    cron_job_id: int | None = None,
    workflow_run_id: int | None = None,
    workflow_step: str = "",
    replay_of: Execution | None = None,
    retry_count: int = 0,
    timeout_s: int | None = None,
    retry_policy: dict | None = None,
    retry_of: Execution | None = None,
    attempt: int = 1,
    not_before=None,
    routing: dict | None = None,
) -> Execution:
    """Queue work for ``agent``: a ``pending`` row, budget held, dispatched after commit.

    Refuses with governance's errors: 423 ``emergency_stop``, 403 ``restriction_<rule>``,
    402 ``budget_exceeded``. Nothing is written when it refuses.
    """
    business = agent.business
    with transaction.atomic():
        enforcement.check_can_start(business=business, agent=agent, trigger=trigger, actor=actor)
        settings_row = run_settings(agent)
        policy = retry_policy if retry_policy is not None else getattr(settings_row, "retry_policy", None)
        estimate = estimate_for(agent)
        timeout, silence = deadlines(settings_row, timeout_s)
        execution = Execution.objects.create(
            business=business,
            agent=agent,
            trigger=trigger,
            status=Status.PENDING,
            input=input if input is not None else {},
            requested_by=actor_name(actor)[:150],
            cron_job_id=cron_job_id,
            workflow_run_id=workflow_run_id,
            workflow_step=workflow_step,
            replay_of=replay_of,
            retry_of=retry_of,
            retry_count=retry_count,
            attempt=attempt,
            timeout_s=timeout,
            heartbeat_timeout_s=silence,
            retry_policy=validate_retry_policy(policy) if policy else None,
            not_before=not_before,
            routing=routing,
            estimate_usd=estimate,
            dispatch_task_id=str(uuid.uuid4()),
        )
        budgets.reserve(business=business, agent_id=agent.pk, ref=budget_ref(execution.pk), estimate=estimate)
        if retry_of is not None:
            announce(
                execution,
                "execution.retried",
                actor=actor,
                message=f"Execution #{retry_of.pk} retried as #{execution.pk} (attempt {attempt})",
                data={"retry_of": retry_of.pk, "attempt": attempt},
            )
        else:
            announce(
                execution,
                "execution.queued",
                actor=actor,
                message=f"Execution #{execution.pk} of {agent.name} queued ({trigger})",
                data={"replay_of": replay_of.pk if replay_of else None},
            )
        if actor is not None and not isinstance(actor, str) and not is_agent(actor):
            audit.record(
                actor=actor,
                action="execution.start",
                business=business,
                target_type="execution",
                target_id=execution.pk,
                after={"agent": agent.pk, "trigger": trigger},
            )
        if agent.mode == AgentMode.PUSH or not_before is not None:
            # Pull work with a backoff goes through the task too: it rings when the wait is over.
            transaction.on_commit(lambda: enqueue_dispatch(execution))
        else:
            transaction.on_commit(lambda: claim_wakeups.ring(agent.pk))
    return execution


def enqueue_dispatch(execution: Execution) -> None:
    """Hand a pending push execution to the worker (after commit, so the row is there)."""
    countdown = None
    if execution.not_before is not None:
        countdown = max(0.0, (execution.not_before - timezone.now()).total_seconds())
    try:
        signature(DISPATCH_TASK).apply_async(
            (execution.pk,), task_id=execution.dispatch_task_id or None, countdown=countdown
        )
    except Exception:
        # The broker is down: the stale-dispatch sweep picks the row up once it is back.
        logger.exception("could not enqueue dispatch of execution %s", execution.pk)


def running_fields(execution: Execution, now) -> list[str]:
    """Set what becoming ``running`` sets; returns the changed field names."""
    execution.status = Status.RUNNING
    execution.started_at = execution.started_at or now
    execution.last_seen_at = now
    if execution.timeout_s:
        execution.deadline_at = execution.started_at + timedelta(seconds=execution.timeout_s)
    return ["status", "started_at", "last_seen_at", "deadline_at"]


def mark_running(execution: Execution, *, actor=None, via: str = "", save: bool = True) -> bool:
    """``pending`` -> ``running`` for a row the caller has locked (or just won). Publishes.

    ``save=False``: the caller saves the row itself, with the other changes it makes (one UPDATE)."""
    if execution.status != Status.PENDING:
        return False
    now = timezone.now()
    fields = running_fields(execution, now)
    if save:
        execution.save(update_fields=fields)
    announce(
        execution,
        "execution.started",
        actor=actor,
        message=f"Execution #{execution.pk} started" + (f" ({via})" if via else ""),
    )
    return True


def apply_cost(
    execution: Execution, reported: Decimal | None, source: str | None = None, pricer=None
) -> None:
    """Price the row: a reported cost wins (and sticks); else price data; else unknown.

    ``source="computed"``: the caller priced the work itself from the price data, part by part
    (OTLP traces: each inference span at its own model and time), so the sum is kept as computed.
    """
    if reported is None and execution.cost_source == CostSource.REPORTED:
        return
    if reported is not None and source == CostSource.COMPUTED:
        execution.cost_usd = pricing.quantize(Decimal(reported))
        execution.cost_source, execution.price_data_version = (
            CostSource.COMPUTED,
            pricing.price_data_version(),
        )
        return
    cost = pricing.cost_of(
        reported=reported,
        provider=execution.model_provider,
        model=execution.model,
        input_tokens=execution.input_tokens,
        output_tokens=execution.output_tokens,
        cache_read_tokens=execution.cache_read_tokens,
        at=execution.started_at or execution.created_at,
        pricer=pricer,
    )
    execution.cost_usd, execution.cost_source, execution.price_data_version = (
        cost.usd,
        cost.source,
        cost.version,
    )


def fill_terminal_fields(execution: Execution, now) -> None:
    """Derive what a terminal row must show: end time, duration, token total."""
    execution.finished_at = execution.finished_at or now
    if execution.duration_ms is None and execution.started_at is not None:
        elapsed = execution.finished_at - execution.started_at
        execution.duration_ms = max(0, int(elapsed.total_seconds() * 1000))
    if not execution.total_tokens:
        execution.total_tokens = (execution.input_tokens or 0) + (execution.output_tokens or 0)


def finish(
    execution: Execution,
    *,
    status: str,
    actor=None,
    reported_cost: Decimal | None = None,
    cost_source: str | None = None,
    message: str = "",
    **changes,
) -> Execution:
    """Make a live execution terminal. The caller holds its row lock (``select_for_update``)."""
    if execution.is_terminal:
        raise ValueError(f"execution {execution.pk} is already {execution.status}")
    for name, value in changes.items():
        setattr(execution, name, value)
    execution.status = status
    fill_terminal_fields(execution, timezone.now())
    apply_cost(execution, reported_cost, cost_source)
    execution.save()
    after_terminal([execution], actor=actor, message=message)
    return execution


def after_terminal(
    executions: list[Execution], *, actor=None, message: str = "", settled: bool = False, fresh: bool = False
):
    """Settle budgets, publish, retry what may be retried and, after commit, tell listeners.

    ``fresh``: the executions were inserted in this transaction, already ended (work reported after
    the fact), so no budget was ever held for them."""
    for execution in executions:
        if not settled:
            settle_budget(execution, fresh=fresh)
        announce(
            execution,
            TERMINAL_EVENTS[execution.status],
            actor=actor,
            message=message or _terminal_message(execution),
            data={"cost_usd": str(execution.cost_usd), "error": execution.error[:200]},
        )
        retry = retry_if_due(execution) if execution.status == Status.FAILED else None
        transaction.on_commit(finished_callback(execution, retry))


def retry_if_due(execution: Execution) -> Execution | None:
    """Start the next attempt of a failed execution if its policy allows; else None.

    Governance still decides: a retry refused (emergency stop, budget) is not started, and the
    failed execution stays the last word.
    """
    policy = execution.retry_policy
    if execution.status != Status.FAILED or not policy:
        return None
    if execution.attempt >= policy.get("max_attempts", 1) or not is_retryable(execution, policy):
        return None
    delay = backoff_delay(policy, execution.attempt)
    try:
        with transaction.atomic():
            return start_execution(
                agent=execution.agent,
                trigger=execution.trigger,
                input=execution.input,
                actor="system",
                cron_job_id=execution.cron_job_id,
                workflow_run_id=execution.workflow_run_id,
                workflow_step=execution.workflow_step,
                retry_count=execution.retry_count + 1,
                timeout_s=execution.timeout_s,
                retry_policy=policy,
                retry_of=execution,
                attempt=execution.attempt + 1,
                not_before=timezone.now() + timedelta(seconds=delay) if delay else None,
            )
    except DomainError as refused:
        announce(
            execution,
            "execution.retry_refused",
            message=f"Execution #{execution.pk} not retried: {refused.detail}",
            data={"error": refused.code},
        )
        return None


def settle_budget(execution: Execution, *, fresh: bool = False) -> None:
    """Settle (or release) the execution's hold, in the caller's transaction.

    Never swallowed: a settle that fails (a lost deadlock, say) fails the whole transaction, so the
    execution does not end without its hold being freed; the caller's retry repeats both.
    ``fresh``: the execution was inserted ended in this transaction; nothing was held for it.
    """
    ref = budget_ref(execution.pk)
    if not fresh and execution.status == Status.ABORTED and execution.started_at is None:
        budgets.release(ref=ref)  # it never ran: nothing was spent
    else:
        book = budgets.book_unreserved if fresh else budgets.settle
        book(
            business=execution.business,
            agent_id=execution.agent_id,
            ref=ref,
            actual=execution.cost_usd,
            model=execution.model,
            at=execution.finished_at,  # where the rollups count it (now, if it has no end)
        )


def lock_execution(
    pk: int, *, settling: bool = True, skip_locked: bool = False, **filters
) -> Execution | None:
    """Lock one execution row for a change, keeping the global lock order.

    ``settling``: the change may end it, so its budget windows are locked first (business, windows
    by id, then executions). Only the execution row is locked (``of=self``: the joined business and
    agent rows are not), and ``FOR NO KEY UPDATE``, so rows that merely reference it (logs, events,
    cron runs) are never blocked by it.
    """
    if settling:
        budgets.lock_windows_for(budget_ref(pk))
    return (
        Execution.objects.select_for_update(of=("self",), no_key=True, skip_locked=skip_locked)
        .select_related("business", "agent")
        .filter(pk=pk, **filters)
        .first()
    )


def _terminal_message(execution: Execution) -> str:
    text = f"Execution #{execution.pk} {execution.status}"
    if execution.status != Status.SUCCESS and execution.error:
        text += f": {execution.error[:200]}"
    return text


def finished_callback(execution: Execution, retry: Execution | None, *, batch: bool = False):
    def send():
        results = execution_finished.send_robust(
            sender=Execution, execution=execution, retry=retry, batch=batch
        )
        log_failures(results, f"execution {execution.pk}")

    return send


def log_failures(results, what: str) -> None:
    """A receiver that fails is logged, never raised: the ledger's write is already committed."""
    for receiver, result in results:
        if isinstance(result, Exception):
            logger.error("receiver %r failed for %s", receiver, what, exc_info=result)
