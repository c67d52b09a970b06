"""Typed errors: one class per kind of answer, carrying the server's stable ``error`` code.

Every error body of the Mission Control API is ``{"error": "<code>", "detail": "<sentence>", ...}``;
validation errors add ``fields``. Catch the class for the situation, read ``code`` for detail::

    try:
        client.report_execution(...)
    except BudgetExceeded:
        ...  # stop starting work until the budget window turns
"""

from __future__ import annotations


class MissionControlError(Exception):
    """Any error answer (or, for :class:`TransportError`, no answer at all)."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str = "",
        body: dict | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code
        self.body = body or {}
        self.fields: dict = self.body.get("fields") or {}
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = " ".join(str(part) for part in (self.status, self.code) if part)
        return f"{where}: {self.detail}" if where else self.detail


class TransportError(MissionControlError):
    """The server could not be reached (or did not answer) after every retry."""


class ValidationError(MissionControlError):
    """400: the request was refused; ``fields`` names what was wrong."""


class AuthenticationError(MissionControlError):
    """401: the key is missing, wrong or revoked (the server does not say which)."""


class BudgetExceeded(MissionControlError):
    """402 ``budget_exceeded``: a hard budget in scope is spent."""


class PermissionDenied(MissionControlError):
    """403: the key may not do this (``restriction_<rule>`` codes name the policy that refused)."""


class NotFound(MissionControlError):
    """404: no such object, or one of another business."""


class Conflict(MissionControlError):
    """409: e.g. the same ``external_id`` with a different body."""


class Immutable(Conflict):
    """409 ``immutable``: the execution is terminal and can no longer change."""


class PayloadTooLarge(MissionControlError):
    """413: the body is over the server's limit; send smaller batches."""


class EmergencyStop(MissionControlError):
    """423 ``emergency_stop``: no new work may start until the stop is released."""


class RateLimited(MissionControlError):
    """429: still over the limit after every retry; ``retry_after`` says how long to wait."""


class ServerError(MissionControlError):
    """5xx after every retry."""


_BY_STATUS: dict[int, type[MissionControlError]] = {
    400: ValidationError,
    401: AuthenticationError,
    402: BudgetExceeded,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    423: EmergencyStop,
    429: RateLimited,
}
_BY_CODE: dict[str, type[MissionControlError]] = {
    "immutable": Immutable,
    "budget_exceeded": BudgetExceeded,
    "emergency_stop": EmergencyStop,
    "rate_limited": RateLimited,
}


def error_for(status: int, body: dict | None, retry_after: float | None = None) -> MissionControlError:
    """The typed error for an error answer."""
    body = body if isinstance(body, dict) else {}
    code = str(body.get("error") or "")
    detail = str(body.get("detail") or f"HTTP {status}")
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else MissionControlError
    return cls(detail, status=status, code=code, body=body, retry_after=retry_after)
