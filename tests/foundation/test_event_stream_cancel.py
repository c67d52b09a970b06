"""A closing socket's listener ends even when the channel layer turns its cancellation into an error
of its own (channels-redis re-raises a broken connection's error from its cancel handler): else the
loop, which survives layer errors by design, would outlive the socket and retry forever."""

import asyncio

import pytest

from mission_control.consumers import EventStreamConsumer


class BrokenOnCancel:
    async def receive(self, channel):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise ConnectionError("Connection closed by server.") from None


@pytest.mark.asyncio
async def test_the_listener_ends_when_the_layer_swallows_its_cancellation():
    consumer = EventStreamConsumer.__new__(EventStreamConsumer)
    consumer.layer, consumer.wake_channel, consumer.wake = BrokenOnCancel(), "specific!x", asyncio.Event()
    listener = asyncio.create_task(consumer._listen())
    await asyncio.sleep(0.05)
    listener.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(listener, timeout=3)
