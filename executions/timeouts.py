"""Deadlines: pending work must be taken by its agent within ``MC_START_TIMEOUT_S`` (schedule to
start); a running execution must close before its start-to-close deadline and, when it has a
heartbeat timeout, show life (a report, a log line, or its id in the agent's heartbeat) that often.
The sweep fails the overdue ones with an error saying which deadline passed, which also settles
(frees) their budget holds."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from executions.abort import SWEEP_BATCH
from executions.lifecycle import finish, lock_execution
from executions.models import Execution, Status
from mission_control.conflicts import retrying


def fail_overdue(now=None) -> int:
    """Fail running executions past a deadline; returns how many.

    Every running execution has one: its own (set when it started, from its agent's run settings
    or the global defaults), else, for rows older than those defaults, ``MC_EXECUTION_TIMEOUT_S``
    after it started and ``MC_EXECUTION_HEARTBEAT_TIMEOUT_S`` of silence."""
    now = now or timezone.now()
    failed = _fail_unstarted(now)
    late = Q(deadline_at__lt=now)
    if settings.MC_EXECUTION_TIMEOUT_S:
        default_cutoff = now - timedelta(seconds=settings.MC_EXECUTION_TIMEOUT_S)
        late |= Q(deadline_at__isnull=True, timeout_s__isnull=True, started_at__lt=default_cutoff)
    overdue = Execution.objects.filter(late, status=Status.RUNNING).values_list("pk", flat=True)
    for pk in list(overdue[:SWEEP_BATCH]):
        failed += _fail(pk, now, _timed_out, "timeout")
    # Coarse in SQL (no timeout is under 5 s), exact in Python: portable across databases.
    silent = (
        Execution.objects.filter(status=Status.RUNNING)
        .filter(Q(last_seen_at__lt=now - timedelta(seconds=5)) | Q(last_seen_at__isnull=True))
        .select_related("agent")
        .order_by("last_seen_at")
    )
    if not settings.MC_EXECUTION_HEARTBEAT_TIMEOUT_S:
        silent = silent.filter(heartbeat_timeout_s__isnull=False)
    for row in list(silent[:SWEEP_BATCH]):
        row.heartbeat_timeout_s = row.heartbeat_timeout_s or settings.MC_EXECUTION_HEARTBEAT_TIMEOUT_S
        row.last_seen_at = row.last_seen_at or row.started_at or row.created_at
        if now - row.last_seen_at <= timedelta(seconds=row.heartbeat_timeout_s):
            continue
        seen = _agent_vouches(row, now)
        if seen is not None:
            # The agent's own heartbeat lists it: alive. Remember, so the next sweep skips it.
            Execution.objects.filter(pk=row.pk, status=Status.RUNNING).update(last_seen_at=seen)
            continue
        silence, seen_at = row.heartbeat_timeout_s, row.last_seen_at
        failed += _fail(
            row.pk,
            now,
            lambda row, silence=silence, seen_at=seen_at: (
                f"Heartbeat timeout: no sign of life for more than {silence} s (last seen {seen_at.isoformat()})."
            ),
            "heartbeat_timeout",
        )
    return failed


def _timed_out(row: Execution) -> str:
    if row.deadline_at is None:
        limit = settings.MC_EXECUTION_TIMEOUT_S
        return f"Timed out: still running {limit} s after it started (the default deadline, MC_EXECUTION_TIMEOUT_S)."
    return (
        f"Timed out: still running {row.timeout_s} s after it started "
        f"(its start-to-close deadline was {row.deadline_at.isoformat()})."
    )


def _fail_unstarted(now) -> int:
    limit = settings.MC_START_TIMEOUT_S
    if not limit:
        return 0
    stale = Execution.objects.filter(status=Status.PENDING, created_at__lt=now - timedelta(seconds=limit))
    failed = 0
    for pk in list(stale.order_by("id").values_list("pk", flat=True)[:SWEEP_BATCH]):
        failed += _fail(
            pk,
            now,
            lambda row: f"Not started: no agent took it within {limit} s of {row.created_at.isoformat()}.",
            "start_timeout",
            status=Status.PENDING,
        )
    return failed


def _agent_vouches(row: Execution, now):
    """The agent's last heartbeat if it is recent and reports this execution as running."""
    agent = row.agent
    beat = agent.last_heartbeat
    if beat is None or now - beat > timedelta(seconds=row.heartbeat_timeout_s):
        return None
    return beat if row.pk in (agent.running_executions or []) else None


@retrying
def _fail(pk: int, now, describe, error_type: str, status: str = Status.RUNNING) -> int:
    with transaction.atomic():
        row = lock_execution(pk, skip_locked=True, status=status)
        if row is None:
            return 0
        finish(row, status=Status.FAILED, error=describe(row), error_type=error_type, finished_at=now)
        return 1
