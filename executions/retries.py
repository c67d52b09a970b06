"""Retries (automatic, by policy) and replays (by an operator). Each is a new ledger row linked to
the one it repeats, so history is never rewritten and the chain stays visible."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from executions.models import Execution, Status, Trigger
from governance import audit
from mission_control.errors import DomainError

POLICY_DEFAULTS = {
    "max_attempts": 1,
    "initial_interval_s": 1.0,
    "backoff": 2.0,
    "max_interval_s": 3600.0,
    "non_retryable_errors": [],
}
MAX_ATTEMPTS_CAP = 100


def validate_retry_policy(policy: dict | None) -> dict | None:
    """A complete policy with defaults filled in, or 400 ``validation_error`` naming the field."""
    if policy is None:
        return None
    if not isinstance(policy, dict):
        raise _invalid("retry_policy", "Must be an object.")
    unknown = sorted(set(policy) - set(POLICY_DEFAULTS))
    if unknown:
        raise _invalid(unknown[0], "Unknown field.")
    merged = {**POLICY_DEFAULTS, **policy}
    attempts = merged["max_attempts"]
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= MAX_ATTEMPTS_CAP:
        raise _invalid("max_attempts", f"An integer from 1 to {MAX_ATTEMPTS_CAP}.")
    for name, low in (("initial_interval_s", 0), ("backoff", 1), ("max_interval_s", 0)):
        value = merged[name]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < low:
            raise _invalid(name, f"A number of at least {low}.")
        merged[name] = float(value)
    errors = merged["non_retryable_errors"]
    if not isinstance(errors, list) or not all(isinstance(e, str) and e for e in errors):
        raise _invalid("non_retryable_errors", "A list of error types or error message prefixes.")
    return merged


def _invalid(field: str, message: str) -> DomainError:
    return DomainError(
        "validation_error",
        f"retry_policy.{field}: {message}",
        fields={"retry_policy": {field: [message]}},
    )


def is_retryable(execution: Execution, policy: dict) -> bool:
    for marker in policy.get("non_retryable_errors", []):
        if execution.error_type == marker or execution.error.startswith(marker):
            return False
    return True


def backoff_delay(policy: dict, attempt: int) -> float:
    """Seconds to wait before attempt ``attempt + 1``: initial * backoff^(attempt - 1), capped."""
    delay = policy["initial_interval_s"] * policy["backoff"] ** (attempt - 1)
    return min(delay, policy["max_interval_s"])


def retry_if_due(execution: Execution) -> Execution | None:
    """Start the next attempt of a failed execution if its policy allows; else None.

    Governance still decides: a retry refused (emergency stop, budget) is not started, and the
    failed execution stays the last word.
    """
    from executions.lifecycle import announce, start_execution

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


def replay_execution(*, execution: Execution, actor) -> Execution:
    """Start the same input again as a new execution. Failed or aborted ones only (else 409)."""
    from executions.lifecycle import start_execution

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
