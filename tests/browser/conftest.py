"""Browser tests: headless Chromium (Debian's) driving a real server over HTTP and WebSocket.

pytest-django's ``live_server`` is WSGI and has no WebSocket, so the server here is daphne serving
``mission_control.asgi`` in a subprocess, on the embedded default (a temporary SQLite file, the
in-memory channel layer, Celery tasks run inline), seeded by ``tests/browser/seed.py``. Every page the
tests visit is saved as a screenshot under ``artifacts/screenshots/``.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PORTS = range(8350, 8400)  # this suite's own range, so parallel runs of other suites never collide
PASSWORD = "pw-browser-123"


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8350-8399")


@dataclass
class Server:
    url: str
    env: dict
    process: subprocess.Popen
    log: Path
    seed: dict = field(default_factory=dict)

    def api(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token or self.seed['owner_token']}"},
            timeout=30,
        )

    def agent_api(self) -> httpx.Client:
        return self.api(self.seed["agent_key"])


def _run(cmd: list[str], env: dict) -> str:
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"{CHROMIUM} is required (REQUIRE_SERVICES=1)")
        pytest.skip(f"needs {CHROMIUM}")
    tmp = tmp_path_factory.mktemp("browser")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "TEST_DB_NAME"}}
    env.update(
        DEBUG="1",
        MC_TESTING="0",
        CELERY_TASK_ALWAYS_EAGER="1",  # no worker process: tasks run inline in the server
        MC_VAR_DIR=str(tmp),
        SQLITE_PATH=str(tmp / "browser.sqlite3"),
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
    )
    _run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env)
    seed = json.loads(_run([sys.executable, "-m", "tests.browser.seed"], env).strip().splitlines()[-1])
    log = tmp / "daphne.log"
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
    running = Server(url=f"http://127.0.0.1:{port}", env=env, process=process, log=log, seed=seed)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{running.url}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise AssertionError("daphne exited:\n" + log.read_text())
        time.sleep(0.3)
    else:
        process.kill()
        raise AssertionError("the server did not become healthy:\n" + log.read_text())
    populate(running)
    yield running
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def populate(server: Server) -> None:
    """Real work through the running server's API, as agents and operators make it: every page then
    shows something (and the screenshots show what a working fleet looks like)."""
    now = datetime.now(UTC)
    agent, people = server.agent_api(), server.api()

    def ok(response, *codes):
        assert response.status_code in (codes or (200, 201)), (response.request.url, response.text)
        return response.json() if response.content else {}

    ok(
        agent.post(
            "/api/v1/agent/heartbeat",
            json={"status": "active", "version": "1.4.2", "runtime_location": "eu-west-1"},
        )
    )
    for i, (model, cost) in enumerate(
        [("gpt-4o", "0.0142"), ("claude-3-5-sonnet", "0.0310"), ("gpt-4o-mini", "0.0007")]
    ):
        ok(
            agent.post(
                "/api/v1/executions/",
                json={
                    "external_id": f"seed-ok-{i}",
                    "status": "success",
                    "input": {"ticket": 100 + i},
                    "output": {"summary": f"Ticket {100 + i} answered"},
                    "model": model,
                    "input_tokens": 1200 + i * 300,
                    "output_tokens": 400 + i * 50,
                    "cost_usd": cost,
                    "started_at": (now - timedelta(minutes=30 - i)).isoformat(),
                    "finished_at": (now - timedelta(minutes=29 - i)).isoformat(),
                    "logs": [
                        {
                            "kind": "prompt",
                            "message": f"Answer ticket {100 + i}",
                            "data": {"system": "Be brief."},
                        },
                        {"kind": "tool_call", "message": "search_kb", "data": {"query": "refund"}},
                        {"kind": "completion", "message": "Here is the answer."},
                    ],
                },
            )
        )
    failed = ok(
        agent.post(
            "/api/v1/executions/",
            json={
                "external_id": "seed-failed",
                "status": "failed",
                "input": {"ticket": 199},
                "error": "Upstream API returned 503 three times",
                "model": "gpt-4o",
                "input_tokens": 800,
                "output_tokens": 0,
                "logs": [
                    {"kind": "api_call", "level": "error", "message": "POST https://api.example/v1 -> 503"}
                ],
            },
        )
    )
    server.seed["failed_execution"] = failed["id"]
    agent_id = server.seed["agent_id"]
    ok(
        people.post(
            "/api/v1/cron-jobs/",
            json={
                "business": "acme",
                "name": "morning-digest",
                "schedule": "0 8 * * 1-5",
                "timezone": "Europe/Paris",
                "agent": agent_id,
            },
        )
    )
    ok(
        people.post(
            "/api/v1/cron-jobs/",
            json={
                "business": "acme",
                "name": "Nightly reconciliation of enterprise invoices (EU)",
                "schedule": "30 1 * * *",
                "timezone": "UTC",
                "agent": server.seed["long_agent_id"],
            },
        )
    )
    definition = {
        "steps": [
            {"id": "fetch", "agent": agent_id},
            {"id": "summarise", "capability": "code", "depends_on": ["fetch"]},
            {"id": "review", "capability": "review", "depends_on": ["fetch"]},
            {"id": "publish", "agent": agent_id, "depends_on": ["summarise", "review"]},
        ]
    }
    ok(
        people.post(
            "/api/v1/workflows/", json={"business": "acme", "name": "weekly-report", "definition": definition}
        )
    )
    epic = ok(people.post("/api/v1/epics", json={"business": "acme", "title": "Self-serve refunds"}))
    first = ok(
        people.post(
            "/api/v1/tasks", json={"business": "acme", "title": "Draft the refund policy", "epic": epic["id"]}
        )
    )
    server.seed["task_id"] = first["id"]
    ok(
        people.post(
            "/api/v1/tasks",
            json={
                "business": "acme",
                "title": "Wire the refund tool",
                "epic": epic["id"],
                "assignee": agent_id,
                "blocked_by": [first["id"]],
            },
        )
    )
    ok(
        people.post(
            "/api/v1/brain/documents",
            json={
                "business": "acme",
                "key": "runbooks/refunds",
                "title": "Refund runbook",
                "body": "Refunds under $50 are automatic.",
                "tags": ["support"],
            },
        )
    )
    ok(
        agent.post(
            "/api/v1/brain/documents",
            json={
                "agent": agent_id,
                "key": "memory/customers",
                "title": "Customer notes",
                "body": "ACME prefers email.",
            },
        )
    )
    ok(people.post("/api/v1/budgets/", json={"business": "acme", "period": "month", "limit_usd": "50"}))


@pytest.fixture(scope="session")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture(scope="session", autouse=True)
def _fresh_screenshots():
    # One run's pictures only: an old screenshot of a page that broke would hide the breakage.
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def owner_state(browser, server, tmp_path_factory) -> str:
    """The owner signs in once through the login page; each test's page reuses the session cookie."""
    context = browser.new_context(base_url=server.url)
    tab = context.new_page()
    sign_in(tab, server.seed["owner"])
    path = str(tmp_path_factory.mktemp("auth") / "owner.json")
    context.storage_state(path=path)
    context.close()
    return path


@pytest.fixture
def page(browser, server, owner_state):
    """A signed-in page (the seed's owner), failing the test on any uncaught script error or
    Content-Security-Policy violation."""
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1440, "height": 900}, storage_state=owner_state
    )
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    # A Content-Security-Policy violation is a failure too: something on the page no longer works.
    tab.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    tab.on("dialog", lambda dialog: dialog.accept())  # confirm() before destructive actions
    yield tab
    context.close()
    assert not errors, f"script errors or CSP violations on the page: {errors}"


def sign_in(tab, username: str) -> None:
    tab.goto("/login/")
    tab.get_by_label("Username").fill(username)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/control")


def shoot(tab, name: str) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path


def wait_live(tab) -> None:
    # A function, not an expression: Playwright evals expressions in the page, which the CSP refuses.
    tab.wait_for_function("() => window.MC && MC.live && MC.live.state === 'open'", timeout=10_000)
