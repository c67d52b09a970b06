"""The Procfile's ``agents`` process (WSGI workers for the agents' short paths) beside daphne, on
PostgreSQL + Redis, with production settings: a heartbeat and a report answered by the WSGI
process, the report's event reaching a WebSocket client of daphne (the after-commit group_send from a
WSGI thread), and work queued through the WSGI process waking a claim that long-polls on daphne
(the claim bell published from a WSGI thread)."""

import asyncio
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import websockets

from bench._procfile import command
from tests.e2e.conftest import ROOT, free_port

pytestmark = pytest.mark.slow  # real server processes

BEAT = {"status": "idle", "version": "1.0", "runtime_location": "e2e", "capabilities": ["x"], "running": []}


@pytest.fixture
def agents_process(services_stack, tmp_path):
    port = free_port()
    env = {
        **services_stack.env,
        "DEBUG": "0",  # production settings: security middleware, no query log
        "MC_HTTPS": "0",
        "SECRET_KEY": "e2e-" + "s" * 60,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "AGENTS_PORT": str(port),
        "AGENTS_WORKERS": "2",
    }
    log = tmp_path / "agents.log"
    process = subprocess.Popen(
        command("agents", env), cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()
        time.sleep(0.3)
    else:
        process.kill()
        raise AssertionError("the agents process did not become healthy:\n" + log.read_text())
    yield url
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.timeout(240)
def test_the_agents_process_serves_the_agent_paths_beside_daphne(services_stack, agents_process):
    api = services_stack.api()
    assert api.post("/api/v1/businesses", json={"name": "E2E", "slug": "e2e"}).status_code == 201
    created = api.post(
        "/api/v1/agents/", json={"business": "e2e", "name": "bot", "capabilities": ["x"], "mode": "pull"}
    )
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    key = api.post(f"/api/v1/agents/{agent_id}/keys", json={}).json()["key"]
    agent = httpx.Client(base_url=agents_process, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    operator = httpx.Client(
        base_url=agents_process, headers={"Authorization": f"Bearer {services_stack.token}"}, timeout=30
    )

    beat = agent.post("/api/v1/agent/heartbeat", json=BEAT)
    assert beat.status_code == 200, beat.text
    assert beat.headers.get("X-Content-Type-Options") == "nosniff"  # DEBUG=0 security middleware ran

    ws_url = (
        services_stack.url.replace("http", "ws")
        + f"/ws/events/?token={services_stack.token}&business=e2e&kinds=execution.succeeded"
    )

    async def scenario():
        async with websockets.connect(ws_url) as ws:
            await asyncio.sleep(0.5)
            report = await asyncio.to_thread(
                agent.post,
                "/api/v1/executions/",
                json={"external_id": "e2e-1", "status": "success", "input": {}, "output": {"ok": True}},
            )
            assert report.status_code == 201, report.text
            # Pushed by the WSGI process's after-commit wake-up: well before the readers' own poll.
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert event["kind"] == "execution.succeeded"
            assert event["execution"] == report.json()["id"]

            # A claim long-polls on daphne; work queued through the WSGI process rings its bell.
            async with httpx.AsyncClient(base_url=services_stack.url, timeout=60) as web:
                claim = asyncio.ensure_future(
                    web.post(
                        "/api/v1/agent/executions/claim",
                        json={"wait_seconds": 30},
                        headers={"Authorization": f"Bearer {key}"},
                    )
                )
                await asyncio.sleep(2)  # the claim is waiting
                queued_at = time.monotonic()
                run = await asyncio.to_thread(
                    operator.post, f"/api/v1/agents/{agent_id}/run", json={"input": {}}
                )
                assert run.status_code == 202, run.text
                answer = await claim
                assert answer.status_code == 200, answer.text
                assert answer.json()["id"] == run.json()["id"]
                return time.monotonic() - queued_at

    with ThreadPoolExecutor(max_workers=1) as pool:
        woke_after = pool.submit(asyncio.run, scenario()).result()
    assert woke_after < 5, woke_after  # the bell, not the 30 s wait
