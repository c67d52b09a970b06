"""Who is at the other end of a WebSocket: checked at connect, and again whenever their access changes.

A socket authenticates with the page's session or ``?token=`` (an operator token ``mct_`` or an
agent key ``mca_``). Whatever could take that access away (a revoked token or key, a logout, a
deactivated user, a membership removed or changed) calls :func:`notify_access_changed` after it
commits; each open socket of that user or agent is in an access group and re-checks at once, and
every socket re-checks on its own every ``MC_WS_RECHECK_S`` seconds in case a notice was lost.

Refusals reach the client as close codes after the handshake (browsers cannot read an HTTP status
of a refused handshake): 4400 bad request, 4401 not authenticated, 4403 forbidden (a foreign
Origin), 4404 no such business (or no longer yours), 4429 too far behind (see the consumer).
"""

import logging
from dataclasses import dataclass, field
from urllib.parse import urlparse

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from mission_control.layer_send import run_on_layer
from mission_control.redis_outage import CHANNEL_LAYER, REDIS_ERRORS

logger = logging.getLogger(__name__)

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_BEHIND = 4429


@dataclass
class Principal:
    """The caller behind a socket: ``user`` is what the event scope is asked about (a Django user
    or an agent actor); ``groups`` are the access groups that tell the socket to re-check."""

    user: object
    groups: list[str] = field(default_factory=list)


def user_group(user_id: int) -> str:
    return f"access.user.{user_id}"


def agent_group(agent_id: int) -> str:
    return f"access.agent.{agent_id}"


def principal_for_token(raw: str) -> Principal | None:
    """The principal behind ``?token=``, asking each of ``settings.MC_WS_TOKEN_AUTHENTICATORS``
    (the bus knows no app: governance reads operator tokens, agents read agent keys)."""
    for path in settings.MC_WS_TOKEN_AUTHENTICATORS:
        principal = import_string(path)(raw)
        if principal is not None:
            return principal
    return None


async def principal_for(scope: dict, token: str | None) -> Principal | None:
    """Authenticate a socket now: its token if it sent one, else its session (read afresh, so a
    logout or a changed password counts)."""
    if token:
        return await database_sync_to_async(principal_for_token)(token)
    session = scope.get("session")
    session_key = getattr(session, "session_key", None)
    if not session_key:
        return None
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)
    user = await get_user({"session": store})
    if not user.is_authenticated or not user.is_active:
        return None
    return Principal(user=user, groups=[user_group(user.pk)])


def notify_access_changed(*, user_id: int | None = None, agent_id: int | None = None) -> None:
    """Tell the open sockets of a user or an agent to re-check their access, once the caller's
    transaction commits. Best effort: a socket also re-checks on its own every few seconds."""
    groups = [user_group(user_id)] if user_id is not None else []
    if agent_id is not None:
        groups.append(agent_group(agent_id))
    if groups:
        transaction.on_commit(lambda: _send(groups))


def _send(groups: list[str]) -> None:
    layer = get_channel_layer()
    if layer is None or CHANNEL_LAYER.down():  # the sockets' own re-checks find the change
        return

    async def send_all():
        for group in groups:
            await layer.group_send(group, {"type": "access.changed"})

    try:
        run_on_layer(layer, send_all)
    except REDIS_ERRORS as exc:
        CHANNEL_LAYER.note("access change notices", exc)
    except Exception:
        logger.warning("could not notify %s of an access change", groups, exc_info=True)


class _Refuse:
    """Accepts and at once closes with 4403, so that a client sees why (a refused handshake is an
    opaque HTTP 403 to browsers). Nothing is sent before the close."""

    async def __call__(self, scope, receive, send):
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_FORBIDDEN})


class BrowserOriginValidator(OriginValidator):
    """Checks the Origin of browser connections against ALLOWED_HOSTS.

    Browsers always send Origin, so a cross-site page cannot ride an operator's session; scripts
    and agents send none and authenticate with ``?token=`` instead, so a missing Origin is allowed.
    A foreign Origin is closed with 4403.
    """

    def __init__(self, application):
        super().__init__(application, settings.ALLOWED_HOSTS)

    async def __call__(self, scope, receive, send):
        origin = None
        for name, value in scope.get("headers", []):
            if name == b"origin":
                try:
                    origin = urlparse(value.decode("latin1"))
                except ValueError:  # not a URL at all ("http://[x"): as foreign as it gets
                    return await _Refuse()(scope, receive, send)
        if not self.valid_origin(origin):
            return await _Refuse()(scope, receive, send)
        return await self.application(scope, receive, send)

    def valid_origin(self, parsed_origin):
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)
