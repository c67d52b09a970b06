import re
import uuid

from django.http import HttpResponseBadRequest, JsonResponse

from mission_control.client_address import client_address
from mission_control.logging import log_context
from mission_control.proxy_hint import hint_undeclared_tls_proxy

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Gives every request an id (kept from ``X-Request-ID`` when sane) for logs and responses, and
    binds the client's address to the log context (every log line and audit entry carries it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.request_id = request_id_for(request)
        hint_undeclared_tls_proxy(request)
        address = client_address(request)
        with log_context(request_id=request_id, client=None if address == "unknown" else address):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def request_id_for(request) -> str:
    """The client's ``X-Request-ID`` when sane, else a new one."""
    incoming = request.headers.get("X-Request-ID", "")
    return incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex


class QueryTextMiddleware:
    """A NUL character in a query parameter is a 400 naming it, on every page and endpoint.

    PostgreSQL cannot compare text holding NUL; without this a filter like ``?model=%00`` reached
    the database and came back as 503 "database unavailable", which clients retry.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                return invalid_parameter_response(request, name.replace("\x00", "\\u0000"))
        return self.get_response(request)


def invalid_parameter_response(request, name: str):
    message = "contains a NUL character."
    if request.path.startswith("/api/"):
        body = {
            "error": "invalid_parameter",
            "detail": f"{name}: {message}",
            "parameter": name,
            "fields": {name: [message]},
        }
        return JsonResponse(body, status=400)
    return HttpResponseBadRequest(f"The parameter {name} {message}", content_type="text/plain")
