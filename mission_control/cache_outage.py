"""What the request path does while the cache (Redis) is down: carry on without it.

Rate limits, sign-in lockouts and cached policy rates live in the cache, but nothing they guard
needs it: an API call that needs only PostgreSQL must keep answering through a Redis outage. So a
cache error opens the limit (the call goes through) and logs one warning per outage, and for
``MC_CACHE_RETRY_S`` seconds the cache is not asked again in this process, so that an unreachable
Redis costs each request nothing instead of a connection timeout. ``/api/v1/health`` still checks
Redis for real and answers 503 naming it.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

try:  # the Redis cache raises redis-py's errors; the embedded default never does
    from redis.exceptions import RedisError

    CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)
except ImportError:  # pragma: no cover - redis is a dependency of channels-redis
    CACHE_ERRORS = (OSError,)

_lock = threading.Lock()
_down_until = 0.0


def retry_after_s() -> float:
    return float(getattr(settings, "MC_CACHE_RETRY_S", 5))


def cache_down() -> bool:
    """True while a recent cache error says not to try again yet."""
    return time.monotonic() < _down_until


def note_cache_error(what: str, exc: BaseException) -> None:
    """Remember that the cache failed; warn once per outage, not once per request."""
    global _down_until
    with _lock:
        first = not cache_down()
        _down_until = time.monotonic() + retry_after_s()
    if first:
        logger.warning(
            "cache unavailable (%s: %s): %s fail open for %.0f s",
            type(exc).__name__,
            exc,
            what,
            retry_after_s(),
        )


def reset() -> None:
    """Forget a noted outage (tests; a health check that found the cache back)."""
    global _down_until
    with _lock:
        _down_until = 0.0


def or_default(what: str, call: Callable[[], T], default: T) -> T:
    """``call()`` against the cache, or ``default`` while it is down (the limit fails open)."""
    if cache_down():
        return default
    try:
        return call()
    except CACHE_ERRORS as exc:
        note_cache_error(what, exc)
        return default
