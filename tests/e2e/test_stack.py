"""The whole product as a newcomer runs it: one ``serve`` process, beat firing the offline sweep,
the worker running it, and the event arriving on a real WebSocket client. Then the same on
PostgreSQL + Redis with the worker and beat as separate processes."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import websockets

pytestmark = pytest.mark.slow  # real server processes


async def _first_event(ws_url: str, timeout: float) -> dict:
    async with websockets.connect(ws_url) as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), timeout))


def exercise(stack) -> None:
    api = stack.api()
    assert api.get("/login/").status_code == 200
    assert api.get("/api/docs/").status_code == 200
    assert api.get("/api/schema/").status_code == 200
    assert api.post("/api/v1/businesses", json={"name": "E2E", "slug": "e2e"}).status_code == 201
    created = api.post(
        "/api/v1/agents/",
        json={
            "business": "e2e",
            "name": "bot",
            "capabilities": ["x"],
            "mode": "pull",
            "heartbeat_timeout_s": 5,
        },
    )
    assert created.status_code == 201, created.text
    agent_id = created.json()["id"]
    key = api.post(f"/api/v1/agents/{agent_id}/keys", json={}).json()["key"]

    ws_url = (
        stack.url.replace("http", "ws") + f"/ws/events/?token={stack.token}&business=e2e&kinds=agent.offline"
    )

    async def scenario():
        listener = asyncio.ensure_future(_first_event(ws_url, timeout=90))
        await asyncio.sleep(0.5)
        beat = await asyncio.to_thread(
            httpx.post,
            f"{stack.url}/api/v1/agent/heartbeat",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "status": "idle",
                "version": "1.0",
                "runtime_location": "e2e",
                "capabilities": ["x"],
                "running": [],
            },
        )
        assert beat.status_code == 200, beat.text
        # Nobody beats again: beat fires the offline sweep, the worker publishes, the socket hears it.
        return await listener

    # Its own thread and loop: an earlier test may have left a loop running in this thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        event = pool.submit(asyncio.run, scenario()).result()
    assert event["kind"] == "agent.offline"
    assert event["agent"] == agent_id
    assert event["business"] == "e2e"


@pytest.mark.timeout(180)
def test_the_embedded_default_serves_fires_scheduled_work_and_streams_events(stack):
    exercise(stack)
    log = stack.log.read_text()
    assert "Embedded default" in log


@pytest.mark.timeout(180)
def test_the_services_stack_does_the_same_on_postgresql_and_redis(services_stack):
    exercise(services_stack)
    assert "Embedded default" not in services_stack.log.read_text()
