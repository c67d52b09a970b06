"""Issue 13 item 3: a client that follows the protocol (reconnect with ``after=``) receives every
event exactly once, in id order: across reconnects, bursts of thousands of events, a commit that
lands after a higher id, a Redis restart, and a client too slow to keep up is told where to resume."""

import json
import socket
import subprocess
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from django.db import connection, transaction
from django.test import override_settings
from rest_framework.test import APIClient

from governance.services import issue_operator_token
from mission_control.events import publish
from tests.foundation.stream_helpers import (
    FAST,
    connect,
    events_until,
    publish_batch,
    stream_tasks_left,
    where_stuck,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def _token(make_member, business) -> str:
    user = await sync_to_async(make_member)("viewer", business)
    return (await sync_to_async(issue_operator_token)(user=user))[1]


def _ids(messages) -> list[int]:
    return [m["id"] for m in messages if "id" in m]


def _publishers(business, *, threads: int, batches: int, size: int) -> tuple[list[threading.Thread], list]:
    """Writers on their own connections, so their transactions interleave and commit out of order."""
    published: list[int] = []
    lock = threading.Lock()

    def write():
        try:
            for _ in range(batches):
                with transaction.atomic():
                    ids = [publish(kind="load.tick", business=business).pk for _ in range(size)]
                with lock:
                    published.extend(ids)
        finally:
            connection.close()

    return [threading.Thread(target=write) for _ in range(threads)], published


@override_settings(**FAST)
async def test_it_delivers_a_burst_exactly_once_in_order_across_reconnects(make_member, business):
    raw = await _token(make_member, business)
    writers, published = _publishers(business, threads=3, batches=10, size=100)
    communicator = await connect(f"/ws/events/?token={raw}")
    for writer in writers:
        writer.start()
    received: list[int] = []
    reconnects = 0
    while len(received) < 3000:
        chunk = _ids(await events_until(communicator, min(400, 3000 - len(received)), timeout=30))
        if not chunk:
            break
        received.extend(chunk)
        # A flaky network: drop and come back with after=. The close waits for the socket's tasks
        # (re-cancelling one whose cancellation was lost), past the communicator's 1 s default.
        await communicator.disconnect(timeout=10)
        reconnects += 1
        communicator = await connect(f"/ws/events/?token={raw}&after={received[-1]}")
    await communicator.disconnect(timeout=10)
    for writer in writers:
        writer.join()
    print(f"burst: sent {len(published)}, received {len(received)}, reconnects {reconnects}")
    assert received == sorted(published)
    assert len(received) == len(set(received)) == 3000
    # Every socket closed above took its tasks with it: a cancellation that lands with a wake-up
    # used to be lost (Python 3.11's wait_for), leaving pumps polling the table for ever.
    left = await stream_tasks_left()
    if left:
        pytest.fail("tasks left:\n" + "\n\n".join("\n".join(where_stuck(task)) for task in left))


@override_settings(**FAST)
async def test_it_holds_a_later_commit_back_until_the_earlier_id_lands(make_member, business, viewer_api):
    raw = await _token(make_member, business)
    communicator = await connect(f"/ws/events/?token={raw}")
    start = await sync_to_async(lambda: publish(kind="a.start", business=business).pk)()
    assert _ids(await events_until(communicator, 1)) == [start]
    drawn, release = threading.Event(), threading.Event()
    early: list[int] = []

    def slow_writer():
        try:
            with transaction.atomic():
                early.append(publish(kind="a.slow", business=business).pk)
                drawn.set()
                release.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    drawn.wait(5)
    late = await sync_to_async(lambda: publish(kind="a.fast", business=business).pk, thread_sensitive=False)()
    assert late > early[0]
    # The higher id is committed, the lower one is not yet: neither the socket nor GET ?after= give it.
    assert await communicator.receive_nothing(timeout=1)
    listed = await sync_to_async(viewer_api.get)(f"/api/v1/events/?after={start}")
    assert listed.json()["results"] == []
    release.set()
    await sync_to_async(writer.join)()
    assert _ids(await events_until(communicator, 2)) == [early[0], late]
    await communicator.disconnect()


@override_settings(**FAST)
async def test_it_does_not_stall_on_an_id_whose_transaction_rolled_back(make_member, business):
    raw = await _token(make_member, business)
    communicator = await connect(f"/ws/events/?token={raw}")

    def rolled_back():
        with pytest.raises(RuntimeError), transaction.atomic():
            publish(kind="never.happened", business=business)
            raise RuntimeError

    await sync_to_async(rolled_back)()
    after = await sync_to_async(lambda: publish(kind="a.after", business=business).pk)()
    assert _ids(await events_until(communicator, 1, timeout=3)) == [after]
    await communicator.disconnect()


@override_settings(**FAST, MC_WS_WINDOW=50, MC_WS_STALL_S=0.5)
async def test_it_tells_a_slow_client_where_to_catch_up(make_member, business):
    raw = await _token(make_member, business)
    communicator = await connect(f"/ws/events/?token={raw}")
    await communicator.send_json_to({"type": "ack", "id": 0})  # this client acks: flow control on
    published = await publish_batch(business, 300)
    messages = await events_until(communicator, 51, timeout=10)
    events = [m for m in messages if "id" in m]
    assert len(events) == 50  # the window, then nothing more until it acks
    resync = next(m for m in messages if m.get("type") == "resync")
    assert resync["after"] == published[0] - 1
    assert messages[-1] == {"closed": 4429}
    # Catch up as told: the REST history after the last id processed, page by page, then reconnect.
    caught_up = [e["id"] for e in events]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    url = f"/api/v1/events/?after={caught_up[-1]}&limit=100"
    while url:
        page = (await sync_to_async(api.get)(url)).json()
        caught_up.extend(e["id"] for e in page["results"])
        url = page["next"]
    resumed = await connect(f"/ws/events/?token={raw}&after={caught_up[-1]}")
    more = await publish_batch(business, 5)
    caught_up.extend(_ids(await events_until(resumed, 5)))
    await resumed.disconnect()
    assert caught_up == published + more


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _redis(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start")


@pytest.mark.redis
async def test_it_loses_nothing_across_a_redis_restart(make_member, business):
    port = _free_port()
    redis = _redis(port)
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": f"redis://127.0.0.1:{port}/0", "socket_timeout": 15}]},
        }
    }
    try:
        with override_settings(CHANNEL_LAYERS=layers, **FAST):
            channel_layers.backends.clear()
            raw = await _token(make_member, business)
            communicator = await connect(f"/ws/events/?token={raw}")
            published = await publish_batch(business, 100)
            received = _ids(await events_until(communicator, 100))
            redis.terminate()  # Redis goes away, and comes back empty (no groups, no channels)
            redis.wait(5)
            published += await publish_batch(business, 100)
            received += _ids(await events_until(communicator, 100))
            redis = _redis(port)
            published += await publish_batch(business, 100)
            received += _ids(await events_until(communicator, 100))
            await communicator.disconnect()
            print(f"redis restart: sent {len(published)}, received {len(received)}")
            assert received == published
    finally:
        redis.kill()
        channel_layers.backends.clear()


async def test_it_answers_pings_with_the_position(make_member, business):
    raw = await _token(make_member, business)
    communicator = await connect(f"/ws/events/?token={raw}")
    await communicator.send_json_to({"type": "ping"})
    pong = json.loads((await communicator.receive_output(timeout=5))["text"])
    assert pong["type"] == "pong" and isinstance(pong["after"], int)
    await communicator.send_to(text_data="not json")  # ignored, the socket stays open
    await communicator.send_json_to({"type": "ping"})
    assert json.loads((await communicator.receive_output(timeout=5))["text"])["type"] == "pong"
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
