"""The heartbeat answered in front of Django in the WSGI process (the Procfile's ``agents``).

A warm beat spends about half its CPU in what an agent's plain beat does not need: thirteen
middleware, URL resolving, DRF's request, negotiation and rendering. This WSGI wrapper answers the
common beat itself, with the same functions the view calls (the gate, ``validated_heartbeat``'s plain
check, ``record_heartbeat``) and the same answer, and sends everything else to Django:

* only ``POST`` to the heartbeat's path, with an agent key, a JSON body, no query string, no cookie,
  a host Django allows and no HTTPS redirect due: anything else goes to Django untouched;
* a body the plain check cannot vouch for, Redis unusable, or no Django-made answer seen yet: Django;
* once the gate ran (it counts the key's rate), a refusal (401, 429) or a failure while recording is
  handed to Django *with the gate's verdict* (``heartbeat_gate.HANDED_OVER``), so the errors are
  Django's own and nothing is counted twice.

The response headers are those of the last heartbeat Django answered 200 in this process for an
agent key (security headers, CSP, ``Allow``, ``Vary``), less its request id and length, so the two
paths cannot drift apart; the request id, the log context and the ``/metrics`` counts are made as
``RequestContextMiddleware`` and ``RequestMetricsMiddleware`` make them.
"""

import io
import json
import logging
import time

from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.urls import reverse
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.renderers import JSONRenderer

from agents import heartbeat_gate, heartbeats
from agents.api.heartbeat_input import plain_heartbeat
from agents.auth import KEY_PREFIX
from governance.auth import bearer_token
from mission_control.client_address import client_address
from mission_control.logging import log_context
from mission_control.middleware import request_id_for
from mission_control.proxy_hint import hint_undeclared_tls_proxy
from mission_control.request_metrics import LATENCY, REQUESTS

logger = logging.getLogger(__name__)

ROUTE = "agent-heartbeat"
BODY_MAX = 64 * 1024  # a beat is a few hundred bytes; anything larger is Django's to judge
_SKIPPED_HEADERS = frozenset({"x-request-id", "content-length"})
_renderer = JSONRenderer()


class HeartbeatFront:
    def __init__(self, application):
        self.application = application
        self._paths: frozenset[str] | None = None
        # (over HTTPS?, headers) of Django's last 200 to an agent key's beat: one tuple, swapped whole
        self._learned: tuple[bool, list[tuple[str, str]]] | None = None

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") not in self.paths():
            return self.application(environ, start_response)
        try:
            answer = self._answer(environ)
        except Exception:  # whatever it is, Django answers (and words) it
            logger.exception("heartbeat front: handing the beat to Django")
            answer = None
        if answer is not None:
            start_response("200 OK", answer[1])
            return [answer[0]]
        return self.application(environ, self._learning(environ, start_response))

    def paths(self) -> frozenset[str]:
        if self._paths is None:
            path = reverse(ROUTE)
            self._paths = frozenset({path.rstrip("/"), path.rstrip("/") + "/"})
        return self._paths

    def _answer(self, environ) -> tuple[bytes, list] | None:
        """The beat's body and headers, or None for Django (the environ is left for it to read)."""
        learned = self._learned
        if learned is None or environ.get("QUERY_STRING") or "HTTP_COOKIE" in environ:
            return None
        if not _plain_json(environ.get("CONTENT_TYPE", "")):
            return None
        request = WSGIRequest(environ)
        raw = bearer_token(request)
        if raw is None or not raw.startswith(KEY_PREFIX):
            return None
        secure = request.is_secure()
        if secure != learned[0] or (settings.SECURE_SSL_REDIRECT and not secure):
            return None
        try:
            request.get_host()
        except DisallowedHost:
            return None
        data = _body(environ)
        if data is None:
            return None
        started = time.perf_counter()
        request_id = request_id_for(request)
        hint_undeclared_tls_proxy(request)
        address = client_address(request)
        with log_context(request_id=request_id, client=None if address == "unknown" else address):
            # As Django's handler does: its receivers close the database connections a request
            # must not keep (broken, or older than CONN_MAX_AGE).
            signals.request_started.send(sender=self.__class__, environ=environ)
            try:
                body = self._beat(environ, raw, data)
            finally:
                signals.request_finished.send(sender=self.__class__)
        if body is None:
            return None
        REQUESTS.labels("POST", ROUTE, "200").inc()
        LATENCY.labels("POST", ROUTE).observe(time.perf_counter() - started)
        headers = [*learned[1], ("Content-Length", str(len(body))), ("X-Request-ID", request_id)]
        return body, headers

    def _beat(self, environ, raw: str, data: dict) -> bytes | None:
        try:
            actor = heartbeat_gate.check(raw)
        except AuthenticationFailed as refused:
            environ[heartbeat_gate.HANDED_OVER] = refused
            return None
        if actor is None:
            return None
        if heartbeat_gate.throttled_for(actor) is not None:
            environ[heartbeat_gate.HANDED_OVER] = actor
            return None
        try:
            answer = heartbeats.record_heartbeat(
                agent_id=actor.agent_id,
                business_id=actor.business_id,
                versions=actor.heartbeat_versions,
                **data,
            )
        except Exception:
            environ[heartbeat_gate.HANDED_OVER] = actor  # Django records again and words the error
            return None
        return _renderer.render(answer)

    def _learning(self, environ, start_response):
        """``start_response`` that keeps the headers of Django's 200 to an agent key's plain beat."""
        agent_key = environ.get("HTTP_AUTHORIZATION", "").startswith(f"Bearer {KEY_PREFIX}")

        def learn(status, headers, exc_info=None):
            if agent_key and status.startswith("200 ") and "HTTP_COOKIE" not in environ:
                kept = [(k, v) for k, v in headers if k.lower() not in _SKIPPED_HEADERS]
                if not any(k.lower() == "set-cookie" for k, _ in kept):
                    self._learned = (WSGIRequest(environ).is_secure(), kept)
            return start_response(status, headers, exc_info)

        return learn


def _body(environ) -> dict | None:
    """The body's validated fields when the plain check vouches for them, else None; the body read
    is put back for Django either way."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= BODY_MAX:
        return None
    content = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(content)
    environ["CONTENT_LENGTH"] = str(len(content))
    try:
        data = json.loads(content.decode("utf-8"))  # as DRF's parser reads it (UTF-8 unless told)
    except ValueError:
        return None
    return plain_heartbeat(data)


def _plain_json(content_type: str) -> bool:
    """``application/json``, in UTF-8 if a charset is given: the bodies DRF's JSON parser reads as
    this module does."""
    media, *params = (part.strip().lower() for part in content_type.split(";"))
    return media == "application/json" and all(p in ("charset=utf-8", "charset=utf8") for p in params)
