"""Shared helpers for the live event stream tests (``/ws/events/``)."""

import asyncio

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from mission_control.asgi import application
from mission_control.events import publish, publish_many
from mission_control.models import Event

# Fast polls and re-checks so that tests that rely on them stay short.
FAST = {"MC_WS_POLL_S": 0.2, "MC_WS_RECHECK_S": 60}


async def connect(path: str, headers=None) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=headers or [(b"host", b"localhost")])
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


async def stream_tasks_left(within: float = 30) -> list[asyncio.Task]:
    """The event-stream tasks (pump, listener) of this loop still alive ``within`` seconds from now:
    none once every socket closed. (A listener's cancellation can wait for channels-redis' blocking
    pop, up to 5 s, and was seen still pending after 10 s in a full CI run on the loaded 2-core
    machine: a test that finds one prints where it waits, ``where_stuck``.)"""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        left = [
            t
            for t in asyncio.all_tasks()
            if not t.done() and getattr(t.get_coro(), "__qualname__", "").startswith("EventStreamConsumer.")
        ]
        if not left or loop.time() >= deadline:
            return left
        await asyncio.sleep(0.1)


def where_stuck(task: asyncio.Task) -> list[str]:
    """Every frame a suspended task waits in, outermost first (a task's own stack shows only its
    outermost coroutine): what a test that finds a task left over should print."""
    frames = []
    awaited = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is not None:
            frames.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    frames.append(repr(getattr(task, "_fut_waiter", None)))
    return frames


async def closed_with(communicator: WebsocketCommunicator, timeout: float = 5) -> int | None:
    """Read until the server closes; the close code (events on the way are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        message = await communicator.receive_output(timeout=deadline - loop.time())
        if message["type"] == "websocket.close":
            await communicator.disconnect()  # as a client does: the server's tasks end with it
            return message.get("code")
    return None


async def events_until(communicator: WebsocketCommunicator, count: int, timeout: float = 20) -> list[dict]:
    """Receive ``count`` events (other protocol messages are returned too, at their place)."""
    import json

    received: list[dict] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while sum("id" in m for m in received) < count:
        message = await communicator.receive_output(timeout=max(0.01, deadline - loop.time()))
        if message["type"] == "websocket.close":
            received.append({"closed": message.get("code")})
            break
        received.append(json.loads(message["text"]))
    return received


def _publish_batch(business, kind: str, count: int) -> list[int]:
    with transaction.atomic():
        events = [
            Event(kind=kind, business_id=business.pk, business_slug=business.slug, message=str(i))
            for i in range(count)
        ]
        return [e.pk for e in publish_many(events)]


async def publish_batch(business, count: int, kind: str = "load.tick") -> list[int]:
    return await sync_to_async(_publish_batch)(business, kind, count)


async def publish_one(**kwargs) -> Event:
    def go():
        with transaction.atomic():
            return publish(**kwargs)

    return await sync_to_async(go)()
