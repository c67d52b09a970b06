"""Retry policies: their validation, and what they say about one failed execution.

Pure rules (no writes): the lifecycle applies them when an execution fails, the API and the cron
jobs validate with them.
"""

from executions.models import Execution
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
