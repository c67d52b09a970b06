"""Shared fixtures. App-specific fixtures live in ``tests/<app>/conftest.py``.

Services: tests marked ``postgres`` need the database to be PostgreSQL (``DATABASE_URL``) and tests
marked ``redis`` need ``REDIS_URL``. Without them they skip; under ``REQUIRE_SERVICES=1`` they fail.
"""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from agents.services import create_agent, issue_key
from governance.models import Business, Membership
from governance.roles import Role
from governance.services import issue_operator_token


def _missing(what: str) -> None:
    if settings.REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1) but not configured or not reachable")
    pytest.skip(f"needs {what}")


def redis_available() -> bool:
    if not settings.REDIS_URL:
        return False
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except redis.RedisError:
        return False


@pytest.fixture(autouse=True)
def _services(request):
    if request.node.get_closest_marker("postgres") and not settings.IS_POSTGRES:
        _missing("PostgreSQL (DATABASE_URL)")
    if request.node.get_closest_marker("redis") and not redis_available():
        _missing("Redis (REDIS_URL)")


@pytest.fixture(autouse=True)
def _clear_cache():
    from channels.layers import channel_layers
    from django.core.cache import cache

    from mission_control import redis_outage

    cache.clear()
    # Heartbeat answers cached in this process belong to the previous test's rows.
    from agents.heartbeats import answers, flag_cache
    from agents.presence import flush_clock

    answers.clear()
    flag_cache.clear()
    flush_clock.reset()
    from agents import heartbeat_gate

    heartbeat_gate.reset()
    # The router's kept sums of closed hours belong to the previous test's rollups.
    from observability import routing_figures

    routing_figures.forget()
    # A channels-redis layer keeps connections bound to the event loop that made them; each test
    # (each with its own loop) gets a fresh layer.
    from mission_control import layer_send

    layer_send.reset()
    channel_layers.backends.clear()
    # An outage a test provoked (a Redis it stopped) must not make the next test skip Redis: the
    # breaker would still hold for seconds after the test's own Redis is back.
    redis_outage.reset()
    yield


@pytest.fixture
def business(db):
    return Business.objects.create(name="Acme", slug="acme")


@pytest.fixture
def other_business(db):
    return Business.objects.create(name="Globex", slug="globex")


@pytest.fixture
def make_member(db, django_user_model):
    counter = iter(range(10_000))

    def make(role: str = Role.OPERATOR, business=None, username: str | None = None, **extra):
        user = django_user_model.objects.create_user(
            username=username or f"{role}{next(counter)}", password="pw-secret-123", **extra
        )
        if business is not None:
            Membership.objects.create(user=user, business=business, role=role)
        return user

    return make


def client_for(user) -> APIClient:
    """An API client sending the user's operator token, as a script would."""
    client = APIClient()
    _, raw = issue_operator_token(user=user, name="test")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.user = user
    return client


@pytest.fixture
def api_as(make_member, business):
    """``api_as("admin")`` -> a client for a new member of ``business`` with that role."""

    def make(role: str = Role.OPERATOR, on=None):
        return client_for(make_member(role, on or business))

    return make


@pytest.fixture
def admin_api(api_as):
    return api_as(Role.ADMIN)


@pytest.fixture
def owner_api(api_as):
    return api_as(Role.OWNER)


@pytest.fixture
def operator_api(api_as):
    return api_as(Role.OPERATOR)


@pytest.fixture
def viewer_api(api_as):
    return api_as(Role.VIEWER)


@pytest.fixture
def agent(business):
    return create_agent(business=business, name="coder-1", capabilities=["code", "review"])


@pytest.fixture
def make_agent(business):
    """``make_agent()``, ``make_agent("name", on=other_business, capabilities=["code"], mode="push")``:
    agents of ``business`` (or ``on``), made through the service."""
    counter = iter(range(10_000))

    def make(name: str | None = None, on=None, **fields):
        return create_agent(business=on or business, name=name or f"agent-{next(counter)}", **fields)

    return make


def agent_client(agent) -> APIClient:
    client = APIClient()
    _, raw = issue_key(agent=agent)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.agent = agent
    client.raw_key = raw
    return client


@pytest.fixture
def agent_api(agent):
    return agent_client(agent)
