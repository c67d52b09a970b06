from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache

from governance.models import ExecutionPolicy
from governance.throttling import parse_rate
from tests.conftest import agent_client

T0 = datetime(2026, 5, 4, 10, 0, 5, tzinfo=UTC)


@pytest.fixture
def low_rates(settings):
    rates = {"agent": "5/min", "operator": "3/min", "login": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def test_it_parses_rates():
    assert parse_rate("600/min") == (600, 60)
    assert parse_rate("10/5min") == (10, 300)
    assert parse_rate("2/hours") == (2, 3600)
    assert parse_rate("1/day") == (1, 86400)
    assert parse_rate("often") is None and parse_rate("0/min") is None and parse_rate("5/fortnight") is None


def hammer(client, path: str, times: int) -> list[int]:
    return [client.get(path).status_code for _ in range(times)]


@pytest.mark.django_db
def test_an_operator_token_over_its_rate_gets_429_with_retry_after(low_rates, operator_api):
    with time_machine.travel(T0, tick=False):
        assert hammer(operator_api, "/api/v1/businesses", 3) == [200, 200, 200]
        response = operator_api.get("/api/v1/businesses")
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert response["Retry-After"] == "55"


@pytest.mark.django_db
def test_the_limit_is_per_token(low_rates, operator_api, api_as):
    with time_machine.travel(T0, tick=False):
        hammer(operator_api, "/api/v1/businesses", 4)
        assert api_as("viewer").get("/api/v1/businesses").status_code == 200


@pytest.mark.django_db
def test_the_next_window_lets_requests_through_again(low_rates, operator_api):
    with time_machine.travel(T0, tick=False):
        hammer(operator_api, "/api/v1/businesses", 4)
    with time_machine.travel(T0 + timedelta(seconds=56), tick=False):
        assert operator_api.get("/api/v1/businesses").status_code == 200


@pytest.mark.django_db
def test_an_agent_key_uses_its_policy_rate(low_rates, agent, business):
    ExecutionPolicy.objects.create(business=business, agent_id=agent.pk, rate_limit="2/min")
    client = agent_client(agent)
    with time_machine.travel(T0, tick=False):
        assert hammer(client, "/api/v1/events", 3) == [200, 200, 429]


@pytest.mark.django_db
def test_an_agent_key_falls_back_to_the_default_rate(low_rates, agent):
    client = agent_client(agent)
    with time_machine.travel(T0, tick=False):
        assert hammer(client, "/api/v1/events", 6) == [200] * 5 + [429]


@pytest.mark.django_db
def test_changing_an_agent_policy_takes_effect_at_once(low_rates, agent, business, api_as):
    client = agent_client(agent)
    with time_machine.travel(T0, tick=False):
        hammer(client, "/api/v1/events", 2)  # caches the default rate
        api_as("admin").post(
            "/api/v1/policies", {"business": "acme", "agent": agent.pk, "rate_limit": "2/min"}, format="json"
        )
        assert client.get("/api/v1/events").status_code == 429


@pytest.mark.django_db
def test_password_guesses_are_limited_per_address(low_rates, make_member):
    make_member("viewer", None, username="carol")
    body = {"username": "carol", "password": "wrong"}
    with time_machine.travel(T0, tick=False):
        codes = [client.status_code for client in [_post_token(body) for _ in range(3)]]
    assert codes == [401, 401, 429]


def _post_token(body):
    from rest_framework.test import APIClient

    return APIClient().post("/api/v1/auth/token", body, format="json")


@pytest.mark.redis
@pytest.mark.django_db
def test_counts_live_in_redis(low_rates, operator_api):
    with time_machine.travel(T0, tick=False):
        hammer(operator_api, "/api/v1/businesses", 4)
    keys = [k for k in cache._cache.get_client().keys("*throttle:operator:*")]
    assert len(keys) == 1
    assert int(cache._cache.get_client().get(keys[0])) == 4
