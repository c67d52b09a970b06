"""The SDK's retry and error rules, against a scripted transport (no server, no sleeping)."""

import json

import httpx
import pytest
from mission_control_sdk import (
    BudgetExceeded,
    Client,
    EmergencyStop,
    Immutable,
    RateLimited,
    ServerError,
    TransportError,
    ValidationError,
)
from mission_control_sdk.client import parse_retry_after


def scripted(*answers):
    """A client whose transport plays ``answers`` in order (an exception is raised, not returned)."""
    calls, sleeps = [], []
    queue = list(answers)

    def handler(request):
        calls.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    client = Client("http://mc.test", "mca_k", transport=httpx.MockTransport(handler), sleep=sleeps.append)
    return client, calls, sleeps


def ok(body=None):
    return httpx.Response(200, json=body or {"desired_state": "running", "commands": []})


def err(status, code, headers=None, **extra):
    return httpx.Response(status, json={"error": code, "detail": code, **extra}, headers=headers)


def test_it_honours_retry_after_on_429():
    client, calls, sleeps = scripted(err(429, "rate_limited", {"Retry-After": "7"}), ok())
    assert client.heartbeat()["desired_state"] == "running"
    assert len(calls) == 2
    assert 7 <= sleeps[0] <= 8


def test_it_backs_off_exponentially_with_jitter_on_503():
    client, calls, sleeps = scripted(*(err(503, "service_unavailable") for _ in range(3)), ok())
    client.heartbeat()
    assert len(calls) == 4
    assert all(0 <= s <= client.backoff_base * 2**i for i, s in enumerate(sleeps))


def test_it_gives_up_after_max_retries_with_a_typed_error():
    client, calls, _ = scripted(*(err(429, "rate_limited", {"Retry-After": "1"}) for _ in range(6)))
    with pytest.raises(RateLimited) as caught:
        client.heartbeat()
    assert len(calls) == client.max_retries + 1
    assert caught.value.retry_after == 1


def test_it_retries_a_500_only_when_repeating_is_safe():
    client, calls, _ = scripted(err(500, "server_error"), ok())
    client.heartbeat()
    assert len(calls) == 2
    client, calls, _ = scripted(err(500, "server_error"), ok())
    with pytest.raises(ServerError):
        client.request("POST", "agent/heartbeat", json={}, idempotent=False)
    assert len(calls) == 1


def test_it_retries_connection_errors_and_then_says_so():
    refused = httpx.ConnectError("refused")
    client, calls, _ = scripted(refused, ok())
    client.claim_task()  # not idempotent, but it never reached the server
    assert len(calls) == 2
    client, calls, _ = scripted(*(refused for _ in range(6)))
    with pytest.raises(TransportError):
        client.heartbeat()


def test_a_lost_task_claim_is_retried_with_the_same_claim_id():
    client, calls, _ = scripted(httpx.ReadTimeout("slow"), ok({"id": 3}))
    assert client.claim_task() == {"id": 3}
    first, second = (json.loads(call.read()) for call in calls)
    assert first == second and first["claim_id"].startswith("sdk-")


def test_a_lost_claim_is_retried_with_the_same_claim_id():
    client, calls, _ = scripted(httpx.ReadTimeout("slow"), err(500, "server_error"), ok({"id": 7}))
    assert client.claim_execution(wait_seconds=1) == {"id": 7}
    bodies = [json.loads(call.read()) for call in calls]
    assert len(bodies) == 3 and bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["claim_id"].startswith("sdk-")


def test_each_claim_call_has_its_own_claim_id():
    client, calls, _ = scripted(httpx.Response(204), httpx.Response(204))
    client.claim_execution()
    client.claim_execution()
    first, second = (json.loads(call.read())["claim_id"] for call in calls)
    assert first != second


def test_log_appends_are_retried_with_the_same_client_ids():
    client, calls, _ = scripted(httpx.ReadError("reset"), httpx.Response(201, json=[{"id": 1}, {"id": 2}]))
    client.append_logs(5, [{"message": "a"}, {"message": "b", "client_id": "mine"}])
    first, second = (json.loads(call.read()) for call in calls)
    assert first == second
    assert first[0]["client_id"].startswith("sdk-") and first[1]["client_id"] == "mine"


def test_reports_carry_an_idempotency_key_that_survives_retries():
    client, calls, _ = scripted(err(502, "bad_gateway"), httpx.Response(201, json={"id": 5}))
    client.report_execution(status="success")
    first, second = (json.loads(call.read()) for call in calls)
    assert first == second and first["external_id"].startswith("sdk-")


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (402, "budget_exceeded", BudgetExceeded),
        (423, "emergency_stop", EmergencyStop),
        (409, "immutable", Immutable),
    ],
)
def test_it_maps_error_codes_to_types(status, code, cls):
    client, _, _ = scripted(err(status, code))
    with pytest.raises(cls) as caught:
        client.update_execution(1, status="success")
    assert caught.value.code == code and caught.value.status == status


def test_validation_errors_name_the_fields():
    client, _, _ = scripted(err(400, "validation_error", fields={"status": ["bad"]}))
    with pytest.raises(ValidationError) as caught:
        client.heartbeat(status="sleepy")
    assert caught.value.fields == {"status": ["bad"]}


def test_a_204_claim_is_none():
    client, _, _ = scripted(httpx.Response(204))
    assert client.claim_execution() is None


def test_retry_after_may_be_an_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("soon") is None
