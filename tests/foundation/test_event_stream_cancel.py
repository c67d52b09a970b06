"""A closing socket's listener ends even when the channel layer turns its cancellation into an error
of its own (channels-redis re-raises a broken connection's error from its cancel handler): else the
loop, which survives layer errors by design, would outlive the socket and retry forever."""

import asyncio
import threading

from mission_control.consumers import EventStreamConsumer


class BrokenOnCancel:
    async def receive(self, channel):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise ConnectionError("Connection closed by server.") from None


async def _cancel_a_listener() -> None:
    consumer = EventStreamConsumer.__new__(EventStreamConsumer)
    consumer.layer, consumer.wake_channel, consumer.wake = BrokenOnCancel(), "specific!x", asyncio.Event()
    listener = asyncio.create_task(consumer._listen())
    await asyncio.sleep(0.05)
    listener.cancel()
    await asyncio.wait_for(listener, timeout=3)


def test_the_listener_ends_when_the_layer_swallows_its_cancellation():
    # On a thread and an event loop of its own: in the full run an earlier async test may leave
    # this thread's loop running.
    outcome: list[BaseException | None] = []

    def run():
        try:
            asyncio.run(_cancel_a_listener())
            outcome.append(None)
        except BaseException as exc:  # the outcome is what the test checks
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert outcome and isinstance(outcome[0], asyncio.CancelledError), outcome
