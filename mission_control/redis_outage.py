"""What the request path does while Redis is down: carry on without it.

Rate limits, sign-in lockouts and cached policy rates live in the cache, and live events go out through
the channel layer, but nothing they serve needs them: an API call that needs only PostgreSQL must keep
answering through a Redis outage. So a Redis error opens the limit (the call goes through) or skips the
live delivery (pages catch up with ``after=``), and logs one warning per outage; then, for
``MC_REDIS_RETRY_S`` seconds (doubling while the outage lasts, up to a minute), that dependency is not
asked again in this process, so an unreachable or hung Redis costs each request nothing instead of a
timeout. ``/api/v1/health`` still checks Redis for real and answers 503 naming the cache and broker.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_WINDOW_S = 60.0

# redis-py's errors (the cache and channels-redis raise them); the embedded default never does.
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


def base_window_s() -> float:
    return settings.MC_REDIS_RETRY_S


class Outage:
    """A circuit breaker for one use of Redis (``CACHE``, ``CHANNEL_LAYER``), per process."""

    def __init__(self, name: str):
        self.name = name
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._window = 0.0

    def down(self) -> bool:
        """True while a recent error says not to try again yet."""
        return time.monotonic() < self._down_until

    def note(self, what: str, exc: BaseException) -> None:
        """Remember a failure; warn once per outage, not once per request."""
        now = time.monotonic()
        with self._lock:
            # Failing again soon after the last window: the outage goes on, wait longer next time.
            ongoing = self._window and now < self._down_until + self._window
            self._window = min(MAX_WINDOW_S, self._window * 2) if ongoing else base_window_s()
            first = not ongoing
            self._down_until = now + self._window
        if first:
            logger.warning(
                "%s unavailable (%s: %s): %s carry on without it, retrying in %.0f s",
                self.name,
                type(exc).__name__,
                exc,
                what,
                self._window,
            )

    def recovered(self) -> None:
        if self._window:
            with self._lock:
                if self._window and not self.down():
                    logger.warning("%s is back", self.name)
                    self._window = 0.0

    def reset(self) -> None:
        """Forget a noted outage (tests)."""
        with self._lock:
            self._down_until, self._window = 0.0, 0.0

    def or_default(self, what: str, call: Callable[[], T], default: T) -> T:
        """``call()``, or ``default`` while this dependency is down (a limit fails open)."""
        if self.down():
            return default
        try:
            result = call()
        except REDIS_ERRORS as exc:
            self.note(what, exc)
            return default
        self.recovered()
        return result


CACHE = Outage("cache (Redis)")
CHANNEL_LAYER = Outage("channel layer (Redis)")


def reset() -> None:
    CACHE.reset()
    CHANNEL_LAYER.reset()
