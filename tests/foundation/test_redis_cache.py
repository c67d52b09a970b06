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
