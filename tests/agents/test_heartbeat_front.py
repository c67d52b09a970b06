"""The heartbeat answered in front of Django (``agents.api.heartbeat_front``): the same answer and headers
as Django's, every refusal still Django's own, nothing counted twice, and anything unusual left to
Django. Served through the WSGI application the ``agents`` process runs."""

import io
import json

import pytest
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.api.heartbeat_front import HeartbeatFront
from agents.services import revoke_key
from governance.models import ExecutionPolicy
from mission_control.redis_client import redis_client
from mission_control.request_metrics import REQUESTS

pytestmark = [pytest.mark.django_db]

PATH = "/api/v1/agent/heartbeat"
# Django's WSGI application as mission_control.wsgi makes it (importing that module would also settle
# this test process's garbage collector, mission_control/collector.py).
django_application = get_wsgi_application()


class Counting:
    """Django's WSGI application, counting the requests that reach it."""

    def __init__(self):
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return django_application(environ, start_response)


@pytest.fixture
def front():
    # As Django's test client does: a request's end must not close the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield _front()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _front() -> HeartbeatFront:
    django = Counting()
    application = HeartbeatFront(django)
    application.django = django
    return application


def post(application, key: str, body=None, *, path=PATH, **extra):
    content = json.dumps({"status": "idle"} if body is None else body).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(content),
        "wsgi.errors": io.StringIO(),
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(content)),
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "REMOTE_ADDR": "127.0.0.1",
        **extra,
    }
    answered = {}

    def start_response(status, headers, exc_info=None):
        answered["status"], answered["headers"] = int(status.split()[0]), dict(headers)

    answered["body"] = json.loads(b"".join(application(environ, start_response)) or b"null")
    return answered


def warm(front, key: str) -> int:
    """Three beats, answered by Django while the key and the answer warm up; the requests Django
    has seen by then."""
    for _ in range(3):
        post(front, key)
    return front.django.calls


def comparable(answer: dict) -> tuple:
    headers = {k: v for k, v in answer["headers"].items() if k not in {"X-Request-ID", "Content-Length"}}
    body = {k: v for k, v in answer["body"].items() if k != "server_time"}
    return answer["status"], headers, body


@pytest.mark.redis
def test_it_answers_a_warm_beat_as_django_does_without_django(front, agent_api):
    key = agent_api.raw_key
    for _ in range(3):  # Django answers while the key and the answer warm up
        by_django = post(front, key)
    reached = front.django.calls
    before = REQUESTS.labels("POST", "agent-heartbeat", "200")._value.get()
    post(django_application, key)  # Django counts a beat in the series the front counts in
    assert REQUESTS.labels("POST", "agent-heartbeat", "200")._value.get() == before + 1
    before += 1
    with CaptureQueriesContext(connection) as queries:
        by_front = post(front, key)
    assert front.django.calls == reached
    assert len(queries) == 0
    assert comparable(by_front) == comparable(by_django)
    assert by_front["headers"]["X-Request-ID"] != by_django["headers"]["X-Request-ID"]
    assert int(by_front["headers"]["Content-Length"]) == len(
        json.dumps(by_front["body"], separators=(",", ":"))
    )
    assert REQUESTS.labels("POST", "agent-heartbeat", "200")._value.get() == before + 1
    mine = post(front, key, HTTP_X_REQUEST_ID="agent-7.beat-1")
    assert mine["headers"]["X-Request-ID"] == "agent-7.beat-1"


@pytest.mark.redis
def test_a_revoked_key_gets_djangos_401_on_the_next_beat(front, agent_api, agent):
    key = agent_api.raw_key
    warm(front, key)
    revoke_key(key=agent.keys.get())
    refused = post(front, key)
    assert refused["status"] == 401
    assert refused["body"]["error"] == "authentication_failed"
    assert refused["headers"]["WWW-Authenticate"] == 'Bearer realm="api"'
    assert comparable(refused) == comparable(post(django_application, key))  # Django alone


@pytest.mark.redis
def test_a_throttled_beat_gets_djangos_429_and_is_counted_once(front, agent_api, agent, business):
    ExecutionPolicy.objects.create(business=business, agent_id=agent.pk, rate_limit="5/min")
    key = agent_api.raw_key
    statuses = [post(front, key)["status"] for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    limited = post(front, key)
    assert limited["body"]["error"] == "rate_limited" and "Retry-After" in limited["headers"]
    window = int(timezone.now().timestamp() // 60)
    counted = redis_client().get(cache.make_key(f"throttle:agent:key:{agent.keys.get().pk}:60:{window}"))
    assert int(counted) == 8  # one per beat, whichever path answered it


@pytest.mark.redis
def test_a_body_the_plain_check_cannot_vouch_for_goes_to_django(front, agent_api):
    key = agent_api.raw_key
    reached = warm(front, key)
    refused = post(front, key, {"status": "idle", "colour": "blue"})
    assert refused["status"] == 400 and refused["body"]["error"] == "validation_error"
    trimmed = post(front, key, {"status": "idle", "version": " 1.2 "})  # the serializer trims it
    assert trimmed["status"] == 200
    assert front.django.calls == reached + 2


@pytest.mark.redis
@pytest.mark.parametrize(
    "extra",
    [
        {"QUERY_STRING": "x=1"},
        {"HTTP_COOKIE": "sessionid=abc"},
        {"CONTENT_TYPE": "text/plain"},
        {"CONTENT_TYPE": "application/json; charset=latin-1"},
        {"HTTP_HOST": "evil.example"},
    ],
)
def test_anything_unusual_goes_to_django(front, agent_api, extra):
    key = agent_api.raw_key
    reached = warm(front, key)
    post(front, key, **extra)
    assert front.django.calls == reached + 1


def test_without_redis_django_answers_every_beat(front, agent_api, settings):
    settings.REDIS_URL = ""
    key = agent_api.raw_key
    answers = [post(front, key) for _ in range(3)]
    assert [a["status"] for a in answers] == [200, 200, 200]
    assert front.django.calls == 3


@pytest.mark.redis
def test_other_paths_and_methods_go_to_django(front, agent_api):
    key = agent_api.raw_key
    reached = warm(front, key)
    post(front, key, path="/api/v1/agent/heartbeats")
    post(front, key, REQUEST_METHOD="PUT")
    assert front.django.calls == reached + 2


@pytest.mark.redis
def test_a_failure_in_the_front_hands_the_beat_to_django(front, agent_api, monkeypatch):
    key = agent_api.raw_key
    reached = warm(front, key)

    def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr("agents.api.heartbeat_front.request_id_for", broken)
    assert post(front, key)["status"] == 200
    assert front.django.calls == reached + 1
