"""Django's Redis cache with one client (and so one connection pool) per process.

Django keeps a cache backend per thread *and per asyncio context*, and its ``RedisCache`` makes its
own connection pool per backend. Under daphne every request runs in a context of its own, so every
request that touched the cache (the agent key cache, rate limits) built a pool and opened a fresh
TCP connection to Redis, and a long-polling claim kept both alive while it waited: 1,000 waiting
claims were 1,000 Redis connections and ~30 pool objects each for the collector to walk
(``bench claims``). redis-py's pool is thread-safe, so backends with the same servers and options
share one client.
"""

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.utils.functional import cached_property

_lock = threading.Lock()
_clients: dict[tuple, RedisCacheClient] = {}


class OneClientPerPool(RedisCacheClient):
    """Django's client makes a ``redis.Redis`` around the pool for every cache call, and building one
    (its response callbacks, ~170 dictionary writes) cost more CPU than the round trip it was for:
    four per agent report. A ``redis.Redis`` over a pool is thread-safe, so one per pool serves all."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._redis: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._redis.get(index)
        if client is None:  # two threads may both make one: the same pool under each, harmless
            client = self._redis[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class SharedRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = OneClientPerPool

    @cached_property
    def _cache(self) -> RedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
                for write in (True, False):  # make its pools now, under the lock, not racing
                    client._get_connection_pool(write)
        return client
