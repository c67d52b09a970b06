"""A clean stop, with real processes: ``serve`` and ``dev.py up`` end on SIGINT (Ctrl+C, which the
terminal sends to the whole process group) and on SIGTERM (a supervisor, sent to the parent alone)
within 5 s, children included, with no traceback, leaving the port free and no process behind.
"""

import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from tests.e2e.conftest import ROOT, free_port

pytestmark = pytest.mark.slow  # real server processes

STOP_WITHIN_S = 5.0


def descendants(pid: int) -> set[int]:
    rows = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in rows.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    found, frontier = set(), [pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "zombie" not in status.read()
    except FileNotFoundError:
        return False


def port_free(port: int) -> bool:
    """Free for the next server (which, like daphne, reuses an address in TIME_WAIT)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def clean_env(tmp_path: Path, port: int, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "TEST_DB_NAME"}}
    env.update(
        DEBUG="1",
        MC_TESTING="0",
        CELERY_TASK_ALWAYS_EAGER="0",
        MC_VAR_DIR=str(tmp_path),
        PORT=str(port),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


class Run:
    """A command in its own process group (as a terminal runs it), its output in a file."""

    def __init__(self, cmd: list[str], env: dict, log: Path):
        self.log = log
        self.port = int(env["PORT"])
        self.process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        return self.log.read_text()

    def wait_until(self, pattern: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.output()):
                return
            assert self.process.poll() is None, f"exited early:\n{self.output()}"
            time.sleep(0.3)
        raise AssertionError(f"never saw {pattern!r}:\n{self.output()}")

    def wait_healthy(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, f"exited early:\n{self.output()}"
            time.sleep(0.3)
        raise AssertionError(f"never healthy:\n{self.output()}")

    def stop(self, sig: signal.Signals, *, whole_group: bool) -> float:
        """Send ``sig`` (to the process group, as Ctrl+C does, or to the parent alone) and return
        how long until the parent and every process it started were gone."""
        family = descendants(self.process.pid)
        started = time.monotonic()
        if whole_group:
            os.killpg(self.process.pid, sig)
        else:
            self.process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=15)
        while any(alive(pid) for pid in family) and time.monotonic() - started < 15:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        left = [pid for pid in family if alive(pid)]
        for pid in [self.process.pid, *left]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert not left, f"left running: {left}\n{self.output()}"
        return elapsed

    def assert_clean(self, elapsed: float) -> None:
        out = self.output()
        assert elapsed < STOP_WITHIN_S, f"took {elapsed:.1f} s to stop:\n{out}"
        assert self.process.returncode in (0, -signal.SIGINT, -signal.SIGTERM), out
        assert "Traceback" not in out and "CRITICAL" not in out, out
        assert "Unrecoverable error" not in out, out
        assert port_free(self.port), f"port {self.port} still taken"


def serve(tmp_path: Path, **extra) -> Run:
    port = free_port()
    env = clean_env(tmp_path, port, **extra)
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    return Run(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--concurrency", "2"],
        env,
        tmp_path / "serve.log",
    )


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("sig", "whole_group"), [(signal.SIGINT, True), (signal.SIGTERM, False)])
def test_it_stops_serve_on_the_embedded_default(tmp_path, sig, whole_group):
    run = serve(tmp_path)
    run.wait_healthy()
    run.wait_until(r"beat: Starting")
    elapsed = run.stop(sig, whole_group=whole_group)
    run.assert_clean(elapsed)
    assert "Mission Control stopped." in run.output()


@pytest.fixture
def services_env():
    """A database and Redis db of their own for one serve run on PostgreSQL + Redis."""
    if not settings.IS_POSTGRES or not settings.REDIS_URL:
        if settings.REQUIRE_SERVICES:
            pytest.fail("PostgreSQL and Redis are required (REQUIRE_SERVICES=1)")
        pytest.skip("needs PostgreSQL and Redis")
    import psycopg
    import redis

    db = settings.DATABASES["default"]
    host, port, user = db["HOST"] or "127.0.0.1", db["PORT"] or 5432, db["USER"]
    name = f"mc_stop_{uuid.uuid4().hex[:8]}"
    dsn = f"host={host} port={port} user={user} dbname=postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_url = settings.REDIS_URL.rsplit("/", 1)[0] + "/13"
    redis.Redis.from_url(redis_url).flushdb()
    yield {"DATABASE_URL": f"postgres://{user}@{host}:{port}/{name}", "REDIS_URL": redis_url}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("sig", "whole_group"), [(signal.SIGINT, True), (signal.SIGTERM, False)])
def test_it_stops_serve_and_its_celery_processes_on_postgresql_and_redis(
    tmp_path, services_env, sig, whole_group
):
    run = serve(tmp_path, **services_env)
    run.wait_healthy()
    run.wait_until(r"celery@\S+ ready")
    run.wait_until(r"beat: Starting")
    assert len(descendants(run.process.pid)) >= 3  # the worker, its pool, beat
    elapsed = run.stop(sig, whole_group=whole_group)
    run.assert_clean(elapsed)


@pytest.fixture(scope="module")
def up_var(tmp_path_factory):
    """One var/ for the dev.py runs: the first migrates and seeds the demo, the others reuse it."""
    venv_python = ROOT / ".venv" / "bin" / "python"
    stamp = ROOT / ".venv" / ".installed-lock"
    spec = importlib.util.spec_from_file_location("dev", ROOT / "dev.py")
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    if not venv_python.exists() or not stamp.exists() or stamp.read_text() != dev.install_stamp():
        pytest.skip("dev.py up would install .venv first: run `python3 dev.py install`")
    return tmp_path_factory.mktemp("up")


def dev_up(var: Path, *options: str) -> Run:
    port = free_port()
    log = var / f"up-{port}.log"
    return Run([sys.executable, "dev.py", "up", *options], clean_env(var, port), log)


@pytest.mark.timeout(400)
def test_it_stops_dev_py_up_without_the_fleet_on_sigterm(up_var):
    run = dev_up(up_var, "--no-fleet")
    run.wait_healthy()
    elapsed = run.stop(signal.SIGTERM, whole_group=False)
    run.assert_clean(elapsed)


@pytest.mark.timeout(400)
@pytest.mark.parametrize(("sig", "whole_group"), [(signal.SIGINT, True), (signal.SIGTERM, False)])
def test_it_stops_dev_py_up_and_its_fleet_working_against_it(up_var, sig, whole_group):
    run = dev_up(up_var)
    run.wait_healthy()
    run.wait_until(r'"POST /api/v1/executions/\S*" 201')  # the fleet is reporting work
    elapsed = run.stop(sig, whole_group=whole_group)
    run.assert_clean(elapsed)
    out = run.output()
    assert "Fleet stopped" in out
    assert "Mission Control stopped." in out
    # Said once per start (by serve), not by each command dev.py runs.
    assert out.count("Embedded default: SQLite") == 1
    assert "No hostname was supplied" not in out
