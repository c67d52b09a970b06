import re
import uuid

from mission_control.client_address import client_address
from mission_control.logging import log_context

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Gives every request an id (kept from ``X-Request-ID`` when sane) for logs and responses, and
    binds the client's address to the log context (every log line and audit entry carries it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        address = client_address(request)
        with log_context(request_id=request_id, client=None if address == "unknown" else address):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
