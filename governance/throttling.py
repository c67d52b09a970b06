"""Rate limits, per agent key and per operator token, counted in the Django cache (Redis in production).

Fixed one-period windows counted with the cache's atomic ``incr``: one key per caller per window, so
a check is O(1) whatever the rate (DRF's ``SimpleRateThrottle`` rewrites a list of every request's
timestamp instead, too heavy for the heartbeat path). A caller may burst to twice its rate across a
window boundary; that is the price of O(1). Over the limit: ``429`` with ``Retry-After``.

Rates: ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (``agent``, ``operator``, ``login``), and per agent
the ``rate_limit`` of its execution policy (the agent's own, else its business's). Sign-in attempts
are limited in ``governance.signin`` with the same counter.

While the cache is down every limit fails open (``mission_control.redis_outage``): the API keeps
answering from PostgreSQL.
"""

import re

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from mission_control.redis_outage import CACHE

# DRF imports this module while it builds ``APIView`` (DEFAULT_THROTTLE_CLASSES), so anything that
# imports DRF views in turn (the error module, services) is imported inside the methods below.


def _is_agent(user) -> bool:
    return bool(getattr(user, "is_agent", False))


_UNITS = {
    **dict.fromkeys(("s", "sec", "second"), 1),
    **dict.fromkeys(("m", "min", "minute"), 60),
    **dict.fromkeys(("h", "hour"), 3600),
    **dict.fromkeys(("d", "day"), 86400),
}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?\s*$")


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"600/min"`` -> ``(600, 60)``; ``"10/5min"`` -> ``(10, 300)``; anything else -> None."""
    match = _RATE.match((rate or "").lower())
    if not match or match.group(3) not in _UNITS:
        return None
    count, multiple, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    if count < 1 or multiple < 1:
        return None
    return count, multiple * _UNITS[unit]


def default_rate(scope: str) -> str | None:
    return settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get(scope)


def window_count(key: str, period: int) -> int:
    """Count one more in ``key`` for the current ``period``-second window; 0 while the cache is down."""
    window = int(timezone.now().timestamp() // period)
    full_key = f"throttle:{key}:{period}:{window}"

    def count() -> int:
        try:
            return cache.incr(full_key)
        except ValueError:  # first request of the window
            if cache.add(full_key, 1, timeout=period + 1):
                return 1
            return cache.incr(full_key)

    return CACHE.or_default("rate limits", count, 0)


def window_wait(period: int) -> float:
    """Seconds until the current ``period``-second window ends."""
    now = timezone.now().timestamp()
    return (int(now // period) + 1) * period - now


def hit(key: str, limit: int, period: int) -> float | None:
    """Count a request against ``limit`` per ``period`` s; the seconds to wait when over, else None."""
    if window_count(key, period) > limit:
        return window_wait(period)
    return None


class FixedWindowThrottle(BaseThrottle):
    scope = ""

    def identity(self, request) -> str | None:
        """Who is counted; None: this throttle does not apply to the request."""
        raise NotImplementedError

    def rate(self, request) -> str | None:
        return default_rate(self.scope)

    def allow_request(self, request, view) -> bool:
        if CACHE.down():  # fail open, and skip the policy lookup too
            return True
        ident = self.identity(request)
        parsed = parse_rate(self.rate(request)) if ident else None
        if parsed is None:
            return True
        wait = hit(f"{self.scope}:{ident}", *parsed)
        if wait is not None:
            self._wait = wait
            return False
        return True

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


class AgentKeyThrottle(FixedWindowThrottle):
    """Per agent key; the agent's policy may set its own rate."""

    scope = "agent"

    def identity(self, request) -> str | None:
        if not _is_agent(request.user):
            return None
        return f"key:{getattr(request.auth, 'pk', None) or request.user.agent_id}"

    def rate(self, request) -> str | None:
        from governance.policies import agent_rate

        return agent_rate(request.user.agent_id, request.user.business_id) or default_rate(self.scope)


class OperatorThrottle(FixedWindowThrottle):
    """Per operator token (a script), else per signed-in user (the pages)."""

    scope = "operator"

    def identity(self, request) -> str | None:
        user = request.user
        if not getattr(user, "is_authenticated", False) or _is_agent(user):
            return None
        from governance.models import OperatorToken

        if isinstance(request.auth, OperatorToken):
            return f"token:{request.auth.pk}"
        return f"user:{user.pk}"
