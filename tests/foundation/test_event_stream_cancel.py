"""A closing socket's tasks end, whatever the cancellation meets: a listener whose channel layer turns
the cancellation into an error of its own (channels-redis re-raises a broken connection's error from
its cancel handler), and a pump cancelled just as a wake-up lands (Python 3.11's ``wait_for`` returned
the wake-up and lost the cancellation). Either would outlive the socket, polling for ever."""

import asyncio
import contextlib
import threading

from mission_control.consumers import EventStreamConsumer


class BrokenOnCancel:
    async def receive(self, channel):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise ConnectionError("Connection closed by server.") from None


class SwallowsTheCancellation:
    """A read that loses the cancellation it got (redis-py retrying a read that failed as the
    cancellation was handled) and waits for Redis again."""

    async def receive(self, channel):
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        await asyncio.sleep(3600)


def _consumer() -> EventStreamConsumer:
    consumer = EventStreamConsumer.__new__(EventStreamConsumer)
    consumer.wake = asyncio.Event()
    return consumer


async def _cancel_a_listener() -> None:
    consumer = _consumer()
    consumer.layer, consumer.wake_channel = BrokenOnCancel(), "specific!x"
    listener = asyncio.create_task(consumer._listen())
    await asyncio.sleep(0.05)
    listener.cancel()
    await asyncio.wait_for(listener, timeout=3)


async def _close_over_a_lost_cancellation() -> None:
    consumer = _consumer()
    consumer.layer, consumer.wake_channel = SwallowsTheCancellation(), "specific!x"
    consumer.joined = set()
    listener = asyncio.create_task(consumer._listen())
    consumer.tasks = [listener]
    await asyncio.sleep(0.05)
    await asyncio.wait_for(consumer.disconnect(1000), timeout=4)
    assert listener.done()
    await listener  # its CancelledError: the outcome the test checks


async def _cancel_a_pump_as_it_wakes() -> None:
    consumer = _consumer()
    consumer.recheck_due = False
    consumer.horizon = type("Horizon", (), {"waiting": False})()

    async def deliver() -> bool:
        return True

    consumer._deliver = deliver
    pump = asyncio.create_task(consumer._pump())
    await asyncio.sleep(0.05)  # the pump waits for a wake-up
    consumer.wake.set()
    await asyncio.sleep(0)  # the wake-up is on its way to the pump...
    pump.cancel()  # ...when the socket closes
    await asyncio.wait_for(pump, timeout=3)


def _outcome(make_coroutine) -> BaseException | None:
    """Run on a thread and an event loop of its own: in the full run an earlier async test may leave
    this thread's loop running."""
    outcome: list[BaseException | None] = []

    def run():
        try:
            asyncio.run(make_coroutine())
            outcome.append(None)
        except BaseException as exc:  # the outcome is what the test checks
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert outcome, "still running"
    return outcome[0]


def test_the_listener_ends_when_the_layer_swallows_its_cancellation():
    assert isinstance(_outcome(_cancel_a_listener), asyncio.CancelledError)


def test_the_pump_ends_when_cancelled_as_a_wake_up_lands():
    assert isinstance(_outcome(_cancel_a_pump_as_it_wakes), asyncio.CancelledError)


def test_a_closing_socket_cancels_again_a_listener_that_lost_its_cancellation():
    assert isinstance(_outcome(_close_over_a_lost_cancellation), asyncio.CancelledError)
