"""Replays (by an operator): the same input again, as a new ledger row linked to the one it repeats,
so history is never rewritten and the chain stays visible. Automatic retries by policy are part of
the lifecycle (``lifecycle.retry_if_due``)."""

from django.db import transaction

from executions.lifecycle import start_execution
from executions.models import Execution, Status, Trigger
from governance import audit
from mission_control.errors import DomainError


def replay_execution(*, execution: Execution, actor) -> Execution:
    """Start the same input again as a new execution. Failed or aborted ones only (else 409)."""
    if execution.status not in (Status.FAILED, Status.ABORTED):
        raise DomainError(
            "not_replayable",
            f"Execution #{execution.pk} is {execution.status}; only failed or aborted ones can be replayed.",
        )
    with transaction.atomic():
        replay = start_execution(
            agent=execution.agent,
            trigger=Trigger.MANUAL,
            input=execution.input,
            actor=actor,
            replay_of=execution,
            retry_count=execution.retry_count + 1,
            timeout_s=execution.timeout_s,
            retry_policy=execution.retry_policy,
        )
        audit.record(
            actor=actor,
            action="execution.replay",
            business=execution.business,
            target_type="execution",
            target_id=execution.pk,
            after={"replay": replay.pk},
        )
    return replay
