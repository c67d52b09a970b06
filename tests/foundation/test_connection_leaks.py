"""No error path may keep a pooled database connection: 50 failing requests, then health is 200.

A real daphne process on PostgreSQL with the psycopg pool (a small one, so a leak shows at once),
with DEBUG on and off, a signed-in session on every request (the session and user are loaded from
the database, as for any console page), and requests that fail the ways one can: an exception with
a queryset in its locals (the DEBUG page evaluates it), one inside a transaction, a response that
breaks mid-stream, and the 404s of the API and of a console page.
"""

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

ROOT = Path(__file__).resolve().parents[2]
POOL = 3
FAILING = [
    "/leak/locals",
    "/leak/stream",
    "/leak/atomic",
    "/api/v1/agents/999999",
    "/global/executions/999999",
]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
]  # daphne processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session_for(user) -> str:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


@pytest.fixture
def daphne(request, tmp_path):
    def start(debug: bool) -> str:
        db = settings.DATABASES["default"]
        port = _free_port()
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="tests.foundation.leak_settings",
            DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            DEBUG="1" if debug else "0",
            SECRET_KEY=settings.SECRET_KEY,  # the sessions made here are signed with it
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_SSL_REDIRECT="0",
            MC_DB_POOL_MAX=str(POOL),
            MC_TESTING="0",
            PYTHONUNBUFFERED="1",
        )
        env.pop("TEST_DB_NAME", None)
        log = tmp_path / "daphne.log"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "mission_control.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        request.addfinalizer(lambda: _stop(process))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    return url
            except httpx.TransportError:
                pass
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
        raise AssertionError("daphne did not become healthy:\n" + log.read_text())

    return start


def _stop(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def _fail_50_times(url: str, session_key: str) -> list[int]:
    def one(i: int) -> int:
        try:
            path = FAILING[i % len(FAILING)]
            # daphne leaves a response that broke mid-stream open: give up on it soon.
            timeout = 3 if path == "/leak/stream" else 20
            response = httpx.get(url + path, cookies={"sessionid": session_key}, timeout=timeout)
            response.read()
            return response.status_code
        except httpx.HTTPError:
            return -1  # a stream cut mid-way: the failure we asked for

    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(one, range(50)))


@pytest.mark.parametrize("debug", [True, False], ids=["debug", "production"])
def test_it_answers_health_200_after_50_failing_requests(daphne, django_user_model, debug):
    user = django_user_model.objects.create_superuser("leaker", "leaker@example.com", "pw-secret-123")
    url = daphne(debug)
    statuses = _fail_50_times(url, _session_for(user))
    assert all(s != 200 for s in statuses), statuses
    health = httpx.get(f"{url}/api/v1/health", timeout=30)
    assert health.status_code == 200, health.text
    # And the pool still serves a burst of signed-in requests, not one connection short.
    sessions = [_session_for(user) for _ in range(POOL * 2)]
    with ThreadPoolExecutor(max_workers=POOL * 2) as pool:
        pages = list(
            pool.map(
                lambda key: httpx.get(f"{url}/api/v1/agents", cookies={"sessionid": key}, timeout=30),
                sessions,
            )
        )
    assert [p.status_code for p in pages] == [200] * (POOL * 2)
