"""Domain errors: what a service raises when it refuses, with no HTTP or DRF in sight.

A service (called from the API, the admin, a console action, a task or a command) raises
``DomainError("budget_exists", "A month budget already exists for this agent.")``. The code is the
stable machine code of the API contract (``../shared/spec/api.md``); the sentence is for people.
The API's exception handler (``mission_control.api.errors``) maps the code to its HTTP status from
:data:`STATUS_BY_CODE`, one table for the whole product, and renders the contract's error shape
``{"error": code, "detail": sentence, **extra}``. A code missing from the table is a bug: it
answers 400 and logs a warning.
"""

import logging

logger = logging.getLogger(__name__)

# Every code a service may raise, and the HTTP status the API answers it with.
STATUS_BY_CODE: dict[str, int] = {
    # 400: the request cannot be carried out as sent
    "validation_error": 400,
    "invalid_definition": 400,
    "dependency_cycle": 400,
    "parent_cycle": 400,
    "scale_out_of_bounds": 400,
    "unknown_user": 400,
    "url_not_allowed": 400,
    "malformed_otlp": 400,
    "url_unresolvable": 400,
    # 401 / 402 / 403 / 404
    "invalid_credentials": 401,
    "budget_exceeded": 402,
    "permission_denied": 403,
    "not_holder": 403,
    # a policy's rule refused the work (governance.enforcement): restriction_<rule>
    "restriction_trigger": 403,
    "restriction_model": 403,
    "restriction_provider": 403,
    "restriction_role": 403,
    "restriction_max_tokens": 403,
    "restriction_max_cost": 403,
    "not_found": 404,
    # 409: the state of things does not allow it
    "budget_exists": 409,
    "policy_exists": 409,
    "idempotency_conflict": 409,
    "immutable": 409,
    "month_archived": 409,  # a report or key for a month archive_ledger moved out of the ledger
    "invalid_transition": 409,
    "key_taken": 409,
    "last_owner": 409,
    "name_taken": 409,
    "slug_taken": 409,
    "not_abortable": 409,
    "not_cancellable": 409,
    "not_engaged": 409,
    "not_replayable": 409,
    "not_rerunnable": 409,
    "run_active": 409,
    "version_conflict": 409,
    "no_eligible_agent": 409,
    "agent_unavailable": 409,  # routing: the chosen agent stopped between the decision and its start
    "insufficient_history": 409,  # too little history to train and test a failure model on
    "suggestion_not_open": 409,  # applied or dismissed already
    "suggestion_stale": 409,  # what it would change has changed since it was made
    "not_applicable": 409,  # a suggestion that is advice only
    # 413 / 423 / 429 / 503
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "emergency_stop": 423,
    "rate_limited": 429,
    "write_conflict": 503,
    "model_unavailable": 503,  # a stored failure model that cannot be loaded: retrain it
}


class DomainError(Exception):
    """A refusal with a stable code, a sentence, and optional extra fields for the error body
    (``retry_after`` also becomes the ``Retry-After`` header)."""

    def __init__(self, code: str, detail: str, **extra):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra

    @property
    def status(self) -> int:
        status = STATUS_BY_CODE.get(self.code)
        if status is None:
            logger.warning("domain error code %r has no HTTP status in STATUS_BY_CODE", self.code)
            return 400
        return status

    def __repr__(self) -> str:
        return f"DomainError({self.code!r}, {self.detail!r})"
