"""One Redis client per process for what the cache API cannot say (hashes, pub/sub); None when the
installation runs without Redis (the embedded default), and callers then take their database path."""

import threading

from django.conf import settings

_lock = threading.Lock()
_client = None


def redis_client():
    """A thread-safe redis-py client on ``REDIS_URL`` with the cache's short timeouts, or None."""
    global _client
    if not settings.REDIS_URL:
        return None
    if _client is None:
        with _lock:
            if _client is None:
                import redis

                _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    return _client
