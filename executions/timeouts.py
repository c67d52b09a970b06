"""Deadlines: pending work must be taken by its agent within ``MC_START_TIMEOUT_S`` (schedule to
start); a running execution must close before its start-to-close deadline and, when it has a
heartbeat timeout, show life (a report, a log line, or its id in the agent's heartbeat) that often.
The sweep fails the overdue ones with an error saying which deadline passed, which also settles
(frees) their budget holds."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from executions.abort import SWEEP_BATCH
from executions.lifecycle import finish
from executions.models import Execution, Status


def fail_overdue(now=None) -> int:
    """Fail running executions past a deadline; returns how many."""
    now = now or timezone.now()
    failed = _fail_unstarted(now)
    late = Execution.objects.filter(status=Status.RUNNING, deadline_at__lt=now).values_list("pk", flat=True)
    for pk in list(late[:SWEEP_BATCH]):
        failed += _fail(
            pk,
            now,
            lambda row: (
                f"Timed out: still running {row.timeout_s} s after it started "
                f"(its start-to-close deadline was {row.deadline_at.isoformat()})."
            ),
            "timeout",
        )
    # Coarse in SQL (no timeout is under 5 s), exact in Python: portable across databases.
    silent = (
        Execution.objects.filter(status=Status.RUNNING, heartbeat_timeout_s__isnull=False)
        .filter(last_seen_at__lt=now - timedelta(seconds=5))
        .select_related("agent")
        .order_by("last_seen_at")
    )
    for row in list(silent[:SWEEP_BATCH]):
        if now - row.last_seen_at <= timedelta(seconds=row.heartbeat_timeout_s):
            continue
        seen = _agent_vouches(row, now)
        if seen is not None:
            # The agent's own heartbeat lists it: alive. Remember, so the next sweep skips it.
            Execution.objects.filter(pk=row.pk, status=Status.RUNNING).update(last_seen_at=seen)
            continue
        failed += _fail(
            row.pk,
            now,
            lambda row: (
                f"Heartbeat timeout: no sign of life for more than {row.heartbeat_timeout_s} s "
                f"(last seen {row.last_seen_at.isoformat()})."
            ),
            "heartbeat_timeout",
        )
    return failed


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


def _fail(pk: int, now, describe, error_type: str, status: str = Status.RUNNING) -> int:
    with transaction.atomic():
        row = (
            Execution.objects.select_for_update(skip_locked=True)
            .select_related("business")
            .filter(pk=pk, status=status)
            .first()
        )
        if row is None:
            return 0
        finish(row, status=Status.FAILED, error=describe(row), error_type=error_type, finished_at=now)
        return 1
