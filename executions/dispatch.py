"""Getting pending work to agents.

Push agents: the worker POSTs the execution to the agent's ``endpoint_url``, signed with the
agent's secret (``X-MC-Signature: sha256=<hex HMAC-SHA256 of the raw body>``), with a timeout,
retrying with backoff; a 2xx answer makes the execution ``running``. Each delivery attempt is won
by a conditional UPDATE on ``delivery_attempts``, so a duplicated Celery message never POSTs the
same attempt twice, and nothing is sent once the row has left ``pending``.

Pull agents: ``claim`` hands out the oldest claimable pending execution under ``SELECT ... FOR
UPDATE SKIP LOCKED``, so concurrent claims never get the same row, and long-polls between short
transactions (no transaction is held while waiting).
"""

import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from celery import signature
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from agents.models import Agent, AgentMode
from executions import claim_wakeups, idempotency
from executions.lifecycle import DISPATCH_TASK, finish, lock_execution, mark_running
from executions.models import AgentRunSettings, Execution, Status
from executions.selectors import with_effective_cost
from mission_control import outbound, shutdown
from mission_control.conflicts import retrying

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-MC-Signature"
CLAIM_POLL_S = 0.5
LEASE_MARGIN_S = 30


def push_timeout() -> float:
    return settings.MC_PUSH_TIMEOUT_S


def push_max_attempts() -> int:
    return settings.MC_PUSH_MAX_ATTEMPTS


def push_backoff(attempt: int) -> float:
    """Seconds before delivery attempt ``attempt + 1``: 2, 4, 8... capped at five minutes."""
    return float(min(2**attempt, 300))


def signing_secret(agent: Agent) -> str:
    """The agent's push signing secret, made on first use."""
    row, _ = AgentRunSettings.objects.get_or_create(agent=agent)
    if not row.signing_secret:
        AgentRunSettings.objects.filter(pk=row.pk, signing_secret="").update(
            signing_secret=f"mcs_{secrets.token_urlsafe(32)}"
        )
        row.refresh_from_db(fields=["signing_secret"])
    return row.signing_secret


def sign(secret: str, body: bytes) -> str:
    """``X-MC-Signature`` of a push body; agents check it with the SDK's ``verify_signature``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def payload(execution: Execution, attempt: int) -> dict:
    # Without MC_PUBLIC_URL the URL is relative: the agent joins it to the base URL it was given.
    base = settings.MC_PUBLIC_URL
    return {
        "execution": {
            "id": execution.pk,
            "business": execution.business.slug,
            "agent": execution.agent_id,
            "trigger": execution.trigger,
            "input": execution.input,
            "retry_count": execution.retry_count,
            "attempt": execution.attempt,
            "replay_of": execution.replay_of_id,
            "timeout_s": execution.timeout_s,
            "workflow_run": execution.workflow_run_id,
            "workflow_step": execution.workflow_step,
        },
        "delivery": attempt,
        # The same execution sent again (a retry, or a resend after a lost delivery): an agent that
        # already has it keeps working on the one it has.
        "delivery_attempt": attempt,
        "redelivery": attempt > 1,
        "sent_at": timezone.now().isoformat(),
        "report_url": f"{base}/api/v1/executions/{execution.pk}",
    }


def deliver(execution_id: int) -> str:
    """One delivery attempt of a pending push execution; returns what happened (for logs/tests)."""
    row = Execution.objects.select_related("agent", "business").filter(pk=execution_id).first()
    if row is None or row.status != Status.PENDING:
        return "skipped"
    if row.agent.mode != AgentMode.PUSH:
        wait = (row.not_before - timezone.now()).total_seconds() if row.not_before else 0
        if wait <= 0:
            claim_wakeups.ring(row.agent_id)  # a retry's backoff is over: wake its waiting claims
        elif not settings.CELERY_TASK_ALWAYS_EAGER:
            _schedule(row.pk, wait)  # fired early: ring when the backoff is really over
        return "pull"
    now = timezone.now()
    if row.not_before and row.not_before > now:
        # Eager mode (tests) ignores countdowns and would call straight back: there the waiting
        # row is left to the caller (or to the stale-dispatch sweep).
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            _schedule(row.pk, (row.not_before - now).total_seconds())
        return "deferred"
    attempt = row.delivery_attempts + 1
    # Win this attempt, and hold a lease while it is in flight: a duplicated message arriving
    # now (or later for the same attempt) updates nothing and posts nothing.
    won = (
        Execution.objects.filter(pk=row.pk, status=Status.PENDING, delivery_attempts=row.delivery_attempts)
        .filter(Q(dispatch_lease_until__isnull=True) | Q(dispatch_lease_until__lte=now))
        .update(
            delivery_attempts=attempt,
            last_dispatch_at=now,
            dispatch_lease_until=now + timedelta(seconds=push_timeout() + LEASE_MARGIN_S),
        )
    )
    if not won:
        return "skipped"
    if not row.agent.endpoint_url:
        _give_up(row.pk, "Push agent has no endpoint_url to deliver to.")
        return "failed"
    body = json.dumps(payload(row, attempt), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(signing_secret(row.agent), body),
        "X-MC-Execution": str(row.pk),
        "X-MC-Delivery": str(attempt),
        "X-MC-Redelivery": "true" if attempt > 1 else "false",
        "User-Agent": "MissionControl-Dispatch/1",
    }
    retryable = True
    try:
        response = outbound.post(
            row.agent.endpoint_url, content=body, headers=headers, timeout=push_timeout()
        )
        if 200 <= response.status_code < 300:
            return _delivered(row.pk, attempt)
        problem = f"HTTP {response.status_code}"
        # A 4xx other than 408/429 means the agent refuses this request: sending it again won't help.
        retryable = response.status_code >= 500 or response.status_code in (408, 429)
    except outbound.OutboundRefused as exc:
        problem = str(exc)  # a name that does not resolve (now): retried like a refused connection
        if exc.code == "url_not_allowed":
            # Checked again at send time: the name may resolve elsewhere now (DNS rebinding).
            logger.warning("push delivery of execution %s refused: %s", row.pk, exc)
            _give_up(row.pk, f"Push endpoint refused: {exc}", error_type="endpoint_not_allowed")
            return "failed"
    except httpx.TimeoutException:
        problem = f"no answer within {push_timeout():g} s"
    except httpx.HTTPError as exc:
        problem = f"{type(exc).__name__}: {exc}"
    logger.warning("push delivery %s of execution %s failed: %s", attempt, row.pk, problem)
    if retryable and attempt < push_max_attempts():
        Execution.objects.filter(pk=row.pk, status=Status.PENDING).update(dispatch_lease_until=None)
        _schedule(row.pk, push_backoff(attempt))
        return "retrying"
    _give_up(
        row.pk, f"Push delivery to {row.agent.endpoint_url} failed after {attempt} attempt(s): {problem}."
    )
    return "failed"


@retrying
def _delivered(pk: int, attempt: int) -> str:
    with transaction.atomic():
        row = lock_execution(pk, settling=False)
        if row is not None and mark_running(row, via=f"pushed, attempt {attempt}"):
            return "delivered"
    return "delivered-late"  # the agent already reported on it (or it was aborted meanwhile)


@retrying
def _give_up(pk: int, error: str, error_type: str = "dispatch_failed") -> None:
    with transaction.atomic():
        row = lock_execution(pk)
        if row is not None and row.status == Status.PENDING:
            finish(row, status=Status.FAILED, error=error, error_type=error_type)


def _schedule(pk: int, countdown: float) -> None:
    signature(DISPATCH_TASK).apply_async((pk,), countdown=countdown)


@retrying
def claim_next(*, agent_id: int, claim_id: str | None = None) -> Execution | None:
    """Give agent ``agent_id`` its oldest claimable pending execution, now ``running``; or None.

    The row returned is the one locked and updated, whole, with its business: the answer is written
    from it with no second read (it was pending, so it has no cost correction; ``execution_body``).
    Nothing else is read: not the agent's row (the key named the agent), and a claim that finds
    nothing costs one SELECT.

    With a ``claim_id`` the claim is idempotent: the execution an earlier claim with that id took
    (a retry after a lost answer) is answered again instead of taking another one, read with its
    effective cost (it may have finished, and been corrected, since)."""
    if claim_id and (taken := _claimed(agent_id, claim_id)) is not None:
        return taken
    # In @retrying's transaction, with no savepoint of its own: the lock is held until it commits.
    # SKIP LOCKED so two concurrent claims never get (or wait for) the same row.
    row = (
        Execution.objects.claimable(timezone.now())
        .filter(agent_id=agent_id)
        .select_related("business")
        .select_for_update(skip_locked=True, no_key=True, of=("self",))
        .order_by("id")
        .first()
    )
    if row is None:
        return None
    if claim_id and not _label(row, claim_id):
        return _claimed(agent_id, claim_id)  # the same claim raced itself; the first attempt won
    mark_running(row, actor=f"agent:{agent_id}", via="claimed")
    return row


def _claimed(agent_id: int, claim_id: str) -> Execution | None:
    rows = with_effective_cost(Execution.objects.select_related("business"))
    return idempotency.find(agent_id, "claim_id", claim_id, rows)


def _label(row: Execution, claim_id: str) -> bool:
    """Mark ``row`` as taken by ``claim_id``; False when another row already has it (unique)."""
    row.claim_id = claim_id
    try:
        with transaction.atomic():
            row.save(update_fields=["claim_id"])
    except IntegrityError:
        row.claim_id = None
        return False
    return True


def claim(*, agent_id: int, wait_seconds: float = 0, claim_id: str | None = None) -> Execution | None:
    """Long-poll: try now, then again whenever new work for the agent rings its bell
    (``executions.claim_wakeups``), until ``wait_seconds`` have passed.

    Each try is its own short transaction; while waiting nothing is held, not even a database
    connection, and nothing is queried unless the wake-up channel is down (then every
    ``CLAIM_POLL_S``). A wait that ends at its deadline with no ring while the channel was up all
    along answers without another look: every change that makes work claimable rings, so there is
    nothing new to find (a thousand waiting agents renewing their claims every 30 s cost one
    query each per renewal instead of two).
    """
    deadline = time.monotonic() + max(0.0, wait_seconds)
    bell = claim_wakeups.bells.register(agent_id) if wait_seconds > 0 else None
    try:
        while True:
            row = claim_next(agent_id=agent_id, claim_id=claim_id)
            remaining = deadline - time.monotonic()
            if row is not None or remaining <= 0 or shutdown.requested():
                return row
            live = claim_wakeups.listener.ensure_started()
            generation = claim_wakeups.listener.generation
            if not connection.in_atomic_block:
                connection.close()  # back to the pool: a thousand waiting claims hold no connection
            rung = wait_for_work(bell, remaining if live else min(CLAIM_POLL_S, remaining))
            if (
                not rung
                and live
                and deadline - time.monotonic() <= 0
                and claim_wakeups.listener.heard_everything_since(generation)
                and not bell.is_set()  # a ring that came as the wait timed out: look once more
            ):
                return None
    finally:
        if bell is not None:
            claim_wakeups.bells.unregister(agent_id, bell)


@dataclass(slots=True)
class ClaimWait:
    """A long-poll claim that found nothing, waiting for its bell until ``deadline`` (monotonic)
    on the event loop: no thread, no connection, no query (``claim_or_wait``)."""

    agent_id: int
    bell: claim_wakeups.Bell
    deadline: float
    generation: int

    async def wait(self) -> bool:
        """Until the bell rings or the deadline passes; True when the claim should look again, False
        when it may answer that nothing came (no ring, and none missed). Releases the bell."""
        try:
            if await self.bell.wait_async(max(0.0, self.deadline - time.monotonic())):
                return True
            heard = claim_wakeups.listener.heard_everything_since(self.generation)
            return not heard or self.bell.is_set()
        finally:
            self.release()

    def release(self) -> None:
        """Unregister the bell (again: harmless); for a wait given up before it began."""
        claim_wakeups.bells.unregister(self.agent_id, self.bell)


def claim_or_wait(
    *, agent_id: int, deadline: float, claim_id: str | None = None
) -> Execution | ClaimWait | None:
    """One look of a long-poll served on an event loop: the execution; None once ``deadline``
    (monotonic) has passed or the process is stopping; else a ``ClaimWait`` for the caller to await,
    after which it looks again with the same deadline. The bell is registered before the look, so
    work that commits in between rings it. While the wake-up channel is down this waits here,
    polling, as ``claim`` does."""
    remaining = deadline - time.monotonic()
    if remaining <= 0 or shutdown.requested():
        return claim_next(agent_id=agent_id, claim_id=claim_id)
    if not claim_wakeups.listener.ensure_started():
        return claim(agent_id=agent_id, wait_seconds=remaining, claim_id=claim_id)
    bell = claim_wakeups.bells.register(agent_id)
    try:
        row = claim_next(agent_id=agent_id, claim_id=claim_id)
    except BaseException:
        claim_wakeups.bells.unregister(agent_id, bell)
        raise
    if row is not None or shutdown.requested():
        claim_wakeups.bells.unregister(agent_id, bell)
        return row
    generation = claim_wakeups.listener.generation
    if not connection.in_atomic_block:
        connection.close()  # back to the pool before the wait
    return ClaimWait(agent_id=agent_id, bell=bell, deadline=deadline, generation=generation)


def wait_for_work(bell: claim_wakeups.Bell, seconds: float) -> bool:
    """Sleep until the bell rings (new work, a stopping server) or ``seconds`` pass; True when it rang."""
    return bell.wait(seconds)


# How long past its expected next move a delivery must be before it counts as lost.
REDISPATCH_SLACK_S = 30


def next_move_due(row: Execution) -> datetime | None:
    """When a pending push execution should next have been touched: its first delivery soon after
    it was queued; after an attempt, once that POST's timeout and the backoff to the next attempt
    have passed (a retry waiting its turn is not hurried)."""
    if row.last_dispatch_at is None:
        return row.not_before or row.created_at
    return row.last_dispatch_at + timedelta(seconds=push_timeout() + push_backoff(row.delivery_attempts))


def redispatch_stale(now=None) -> int:
    """Re-enqueue pending push executions whose delivery was lost (broker down, worker killed
    mid-POST): about ``REDISPATCH_SLACK_S`` after it should have moved, not minutes later. The
    resend is the next attempt and says so (``redelivery: true``)."""
    now = now or timezone.now()
    slack = timedelta(seconds=REDISPATCH_SLACK_S)
    candidates = (
        Execution.objects.claimable(now)
        .filter(agent__mode=AgentMode.PUSH, created_at__lt=now - slack)
        .filter(Q(dispatch_lease_until__isnull=True) | Q(dispatch_lease_until__lte=now))
        .exclude(last_dispatch_at__gte=now - slack)
        .only("pk", "created_at", "not_before", "last_dispatch_at", "delivery_attempts")
        .order_by("pk")[:500]
    )
    ids = [row.pk for row in candidates if next_move_due(row) + slack <= now]
    for pk in ids:
        _schedule(pk, 0)
    return len(ids)
