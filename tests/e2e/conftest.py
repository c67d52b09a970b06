"""A real Mission Control stack for end-to-end tests: ``manage.py serve`` in a subprocess.

``stack`` runs on the embedded default (SQLite, in-process broker and channel layer: one process);
``services_stack`` runs on PostgreSQL + Redis (the worker and beat as separate child processes).
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    url: str
    env: dict
    process: subprocess.Popen
    log: Path
    token: str = ""
    extra: dict = field(default_factory=dict)

    def api(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token or self.token}"}, timeout=30
        )

    def manage(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout


def _start(tmp_path: Path, extra_env: dict, port: int | None = None) -> Stack:
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "TEST_DB_NAME"}}
    env.update(
        {
            "DEBUG": "1",
            "MC_TESTING": "0",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "MC_VAR_DIR": str(tmp_path),
            "PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            **extra_env,  # may override the defaults (DEBUG=0 for production settings)
        }
    )
    log = tmp_path / "serve.log"
    stack = Stack(url=f"http://127.0.0.1:{port}", env=env, process=None, log=log)  # type: ignore[arg-type]
    stack.manage("migrate", "--noinput", "-v0")
    code = (
        "from django.contrib.auth import get_user_model;"
        "from governance.services import issue_operator_token;"
        "u = get_user_model().objects.create_superuser('root', 'root@example.com', 'pw-root-123');"
        "print(issue_operator_token(user=u)[1])"
    )
    stack.token = stack.manage("shell", "-c", code).strip().splitlines()[-1]
    stack.process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--concurrency", "2"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{stack.url}/api/v1/health", timeout=2).status_code == 200:
                return stack
        except httpx.TransportError:
            pass
        if stack.process.poll() is not None:
            break
        time.sleep(0.3)
    stack.process.kill()
    raise AssertionError("the stack did not become healthy:\n" + log.read_text())


def _stop(stack: Stack) -> None:
    stack.process.terminate()
    try:
        stack.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        stack.process.kill()


@pytest.fixture
def stack(tmp_path):
    running = _start(tmp_path, {})
    yield running
    _stop(running)


@pytest.fixture
def services_stack(tmp_path):
    if not settings.IS_POSTGRES or not settings.REDIS_URL:
        if settings.REQUIRE_SERVICES:
            pytest.fail("PostgreSQL and Redis are required (REQUIRE_SERVICES=1)")
        pytest.skip("needs PostgreSQL and Redis")
    import psycopg

    db = settings.DATABASES["default"]
    name = f"mc_e2e_{uuid.uuid4().hex[:8]}"
    dsn = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    redis_url = settings.REDIS_URL.rsplit("/", 1)[0] + "/14"
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    running = _start(tmp_path, {"DATABASE_URL": url, "REDIS_URL": redis_url})
    yield running
    _stop(running)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
