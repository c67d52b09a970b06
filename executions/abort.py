"""Stopping work: pending executions abort at once; running ones are asked to stop through the
agent's heartbeat (an ``abort`` command) and are marked aborted by the sweep once the grace
period has passed without the agent reporting an end."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents.services import queue_command
from executions.lifecycle import announce, finish, lock_execution
from executions.models import Execution, Status
from governance import audit
from mission_control.celery import app
from mission_control.conflicts import retrying
from mission_control.errors import DomainError

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


def grace_seconds() -> int:
    return settings.MC_ABORT_GRACE_S


@retrying
def abort_execution(*, execution: Execution, actor=None, reason: str = "") -> Execution:
    """Abort ``execution``: at once when pending, through its agent when running.

    Refuses a terminal execution with 409 ``not_abortable``. Asking twice is harmless.
    """
    with transaction.atomic():
        row = lock_execution(execution.pk)
        if row.is_terminal:
            raise DomainError(
                "not_abortable", f"Execution #{row.pk} is already {row.status}; it cannot be aborted."
            )
        reason = reason or "Aborted by an operator."
        if row.status == Status.PENDING:
            finish(row, status=Status.ABORTED, actor=actor, error=reason, error_type="aborted")
            transaction.on_commit(lambda: revoke(row.dispatch_task_id))
        elif row.abort_requested_at is None:
            row.abort_requested_at = timezone.now()
            row.abort_reason = reason
            row.save(update_fields=["abort_requested_at", "abort_reason"])
            queue_command(agent=row.agent, type="abort", args={"execution": row.pk}, actor=actor)
            announce(
                row,
                "execution.abort_requested",
                actor=actor,
                message=f"Abort of execution #{row.pk} requested: {reason}",
                data={"grace_s": grace_seconds()},
            )
        audit.record(
            actor=actor,
            action="execution.abort",
            business=row.business,
            target_type="execution",
            target_id=row.pk,
            before={"status": execution.status},
            after={"status": row.status},
            reason=reason,
        )
    return row


def force_overdue_aborts(now=None) -> int:
    """Mark aborted the running executions whose agent did not stop within the grace period."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=grace_seconds())
    ids = list(
        Execution.objects.filter(status=Status.RUNNING, abort_requested_at__lte=cutoff).values_list(
            "pk", flat=True
        )[:SWEEP_BATCH]
    )
    return sum(_force_abort(pk) for pk in ids)


@retrying
def _force_abort(pk: int) -> int:
    with transaction.atomic():
        # SKIP LOCKED: a row being reported on right now is left to that report (or the next sweep).
        row = lock_execution(pk, skip_locked=True, status=Status.RUNNING)
        if row is None:
            return 0
        finish(
            row,
            status=Status.ABORTED,
            error=f"{row.abort_reason} The agent did not stop within {grace_seconds()} s; "
            "marked aborted by Mission Control.",
            error_type="aborted",
            message=f"Execution #{row.pk} aborted forcibly after the grace period",
        )
        task_id = row.dispatch_task_id
        transaction.on_commit(lambda: revoke(task_id))
        return 1


def revoke(task_id: str) -> None:
    """Revoke the Celery task that carried the work (a delivery still queued or retrying)."""
    if not task_id:
        return
    try:
        app.control.revoke(task_id)
    except Exception:
        # Revoking is belt and braces: the task re-reads the row and does nothing for a terminal one.
        logger.warning("could not revoke task %s", task_id, exc_info=True)
