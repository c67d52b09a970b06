import contextvars

import pytest
from django.core.cache import cache

pytestmark = pytest.mark.redis


def pool():
    cache.get("anything")
    return cache._cache._get_connection_pool(True)


def test_it_shares_one_redis_pool_between_requests_contexts():
    """Django keeps a cache backend per context (under daphne, each request has a fresh one):
    they share one pool, so a request opens no Redis connection of its own."""
    first, second = contextvars.Context().run(pool), contextvars.Context().run(pool)
    assert first is second is pool()


def test_every_cache_call_uses_one_redis_client_per_pool():
    """Django built a ``redis.Redis`` for each cache call, costing more CPU than the call."""
    client = cache._cache.get_client(write=True)
    cache.set("one-client", 1)
    assert cache.get("one-client") == 1
    assert cache._cache.get_client(write=True) is client is cache._cache.get_client(write=False)
    assert client.connection_pool is pool()
