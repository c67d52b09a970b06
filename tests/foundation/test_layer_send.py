"""Channel-layer sends from sync code go through one long-lived loop per process (channels-redis pools
its connections per loop: a loop per send opened and closed a Redis connection every time), wait for
the send, and raise its errors; a send that hangs is bounded."""

import asyncio
import threading

import pytest
from channels.layers import get_channel_layer

from mission_control import layer_send

pytestmark = pytest.mark.redis


def _on_a_plain_thread(function):
    """Run ``function`` on a thread with no event loop, as a WSGI worker's thread or a Celery task."""
    outcome: list = []

    def run():
        try:
            outcome.append(("ok", function()))
        except BaseException as exc:  # what the test checks
            outcome.append(("raised", exc))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(20)
    return outcome[0]


def test_sends_share_one_loop_and_arrive():
    layer = get_channel_layer()
    loops = []

    def send_three():
        channel = "test.layer-send.inbox"
        for n in range(3):

            async def send(n=n):
                loops.append(asyncio.get_running_loop())
                await layer.send(channel, {"type": "test.message", "n": n})

            layer_send.run_on_layer(layer, send)

    assert _on_a_plain_thread(send_three)[0] == "ok"
    assert len(set(map(id, loops))) == 1 and not loops[0].is_closed()

    async def receive_three():
        return [(await layer.receive("test.layer-send.inbox"))["n"] for _ in range(3)]

    assert asyncio.run_coroutine_threadsafe(receive_three(), loops[0]).result(5) == [0, 1, 2]


def test_a_failing_send_raises_in_the_caller():
    async def fail():
        raise ConnectionError("Connection closed by server.")

    kind, value = _on_a_plain_thread(lambda: layer_send.run_on_layer(get_channel_layer(), fail))
    assert kind == "raised" and isinstance(value, ConnectionError)


def test_a_hung_send_is_bounded_and_cancelled(monkeypatch):
    monkeypatch.setattr(layer_send, "SEND_TIMEOUT_S", 0.2)
    cancelled = threading.Event()

    async def hang():
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    kind, value = _on_a_plain_thread(lambda: layer_send.run_on_layer(get_channel_layer(), hang))
    assert kind == "raised" and isinstance(value, TimeoutError)
    assert cancelled.wait(2)
