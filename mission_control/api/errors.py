"""One error shape everywhere: ``{"error": "<code>", "detail": "<sentence>", ...}``.

Views raise :class:`APIError` (or DRF's own exceptions); the handler below turns every one of
them, DRF's validation, auth, throttling and parse errors included, into that shape.
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, DataError
from django.http import Http404, JsonResponse
from django.views.defaults import bad_request
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from mission_control.errors import DomainError
from mission_control.json_limits import UnacceptableJSON
from mission_control.params import InvalidParameter

logger = logging.getLogger(__name__)


class APIError(exceptions.APIException):
    """A product error with a stable machine code, e.g. ``APIError(409, "immutable", "...")``."""

    def __init__(self, status_code: int, code: str, detail: str, **extra):
        self.status_code = status_code
        self.code = code
        self.extra = extra
        super().__init__(detail=detail, code=code)


# deadlock_detected, serialization_failure: PostgreSQL rolled one transaction back; repeat it.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
RETRY_AFTER_S = 1


def is_write_conflict(exc: BaseException | None) -> bool:
    """True for a deadlock or serialization failure (however Django wrapped psycopg's error)."""
    for _ in range(5):
        if exc is None:
            return False
        if getattr(exc, "sqlstate", None) in RETRYABLE_SQLSTATES:
            return True
        exc = exc.__cause__
    return False


class WriteConflict(APIError):
    """A write that lost a deadlock or serialization race: nothing was applied, send it again."""

    def __init__(self):
        super().__init__(
            503,
            "write_conflict",
            "Another request changed the same records at the same moment; nothing was applied. "
            f"Send the request again (retry after {RETRY_AFTER_S} s).",
            retry_after=RETRY_AFTER_S,
        )


# DRF exception class -> (stable code, default sentence)
_CODES: list[tuple[type, str]] = [
    (exceptions.ParseError, "malformed_json"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),
]


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {str(k): _messages(v) for k, v in detail.items()}
    return {"non_field_errors": _messages(detail)}


def _messages(value) -> list | dict:
    if isinstance(value, dict):
        return {str(k): _messages(v) for k, v in value.items()}
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return [str(v) for v in value]
        return {str(i): _messages(v) for i, v in enumerate(value) if v}
    return [str(value)]


def error_body(code: str, detail: str, **extra) -> dict:
    return {"error": code, "detail": detail, **extra}


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, InvalidParameter):
        set_rollback()
        body = error_body("invalid_parameter", str(exc), parameter=exc.name, fields={exc.name: [exc.message]})
        return Response(body, status=400)

    if isinstance(exc, DatabaseError) and is_write_conflict(exc):
        logger.warning("write conflict in API view: %s", str(exc).splitlines()[0])
        exc = WriteConflict()

    if isinstance(exc, UnacceptableJSON):
        set_rollback()
        return Response(error_body(exc.code, exc.message, path=exc.path), status=400)

    if isinstance(exc, RequestDataTooBig):
        return Response(payload_too_large_body(), status=413)

    if isinstance(exc, DomainError):
        body = error_body(exc.code, exc.detail, **exc.extra)
        headers = {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else {}
        set_rollback()
        return Response(body, status=exc.status, headers=headers)

    if isinstance(exc, APIError):
        body = error_body(exc.code, str(exc.detail), **exc.extra)
        headers = {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else {}
        set_rollback()
        return Response(body, status=exc.status_code, headers=headers)

    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first = next(iter(fields.items()), None)
        sentence = "The request is invalid."
        if first:
            name, msgs = first
            msg = msgs[0] if isinstance(msgs, list) and msgs else "is invalid"
            sentence = f"{msg}" if name == "non_field_errors" else f"{name}: {msg}"
        set_rollback()
        return Response(error_body("validation_error", sentence, fields=fields), status=400)

    if isinstance(exc, exceptions.APIException):
        code = next((c for klass, c in _CODES if isinstance(exc, klass)), None) or str(
            getattr(exc, "default_code", "error")
        )
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = {}
        extra = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            wait = max(1, int(exc.wait + 0.999))
            headers["Retry-After"] = str(wait)
            extra["retry_after"] = wait
            detail = f"Too many requests; retry in {wait} s."
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        elif isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        set_rollback()
        return Response(error_body(code, detail, **extra), status=exc.status_code, headers=headers)

    if isinstance(exc, DataError):
        # SQLSTATE class 22: the value sent cannot be stored (out of range, NUL, bad encoding). The
        # client's fault, not an outage: a 503 here would make clients (the SDK too) retry it forever.
        logger.info("refused a value the database cannot store: %s", exc)
        set_rollback()
        return Response(
            error_body(
                "invalid_value", "A value in the request cannot be stored (out of range or bad text)."
            ),
            status=400,
        )

    if isinstance(exc, DatabaseError):
        logger.exception("database error in API view")
        set_rollback()
        return Response(
            error_body("service_unavailable", "The database is unavailable; try again shortly."),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return None


def payload_too_large_body() -> dict:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_body("payload_too_large", f"The body is too large; at most {limit} bytes are accepted.")


def json_400(request, exception=None):
    """Django's own 400s (a body over ``MC_MAX_BODY_BYTES``, a bad Host): JSON on the API, 413 when too big."""
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(payload_too_large_body(), status=413)
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("bad_request", "The request is malformed."), status=400)
    return bad_request(request, exception)


def json_404(request, exception=None):
    return JsonResponse(error_body("not_found", "No such resource."), status=404)


def json_500(request):
    return JsonResponse(error_body("server_error", "An unexpected error occurred."), status=500)
