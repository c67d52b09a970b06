import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.cache import cache

pytestmark = pytest.mark.redis


def test_it_shares_one_redis_pool_between_requests_contexts():
    """Django keeps a cache backend per asyncio context (each daphne request): they share a pool."""

    def pool():
        cache.get("anything")
        return cache._cache._get_connection_pool(True)

    async def in_a_request():
        return await sync_to_async(pool, thread_sensitive=False)()

    assert async_to_sync(in_a_request)() is async_to_sync(in_a_request)() is pool()
