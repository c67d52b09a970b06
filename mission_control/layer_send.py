"""Channel-layer sends from sync code, without an event loop (and a Redis connection) per send.

``async_to_sync`` called on a thread with no event loop of its own (a WSGI worker's thread, a Celery
task, a management command) runs the coroutine on a new loop every time, and channels-redis keeps its
connection pools per loop: every wake-up built a loop, opened a Redis connection, sent, and closed
both, a few milliseconds of CPU for each execution reported. Here a Redis layer is driven from one
long-lived loop on a daemon thread of the process (started again after a fork), so its connections
are pooled as they are under daphne. The caller still waits for the send, bounded by
``SEND_TIMEOUT_S``, and sees its errors as before.

The in-memory layer (the embedded default) keeps ``async_to_sync``: its queues belong to the loop
that serves the sockets, which ``async_to_sync`` reaches from daphne's threads.
"""

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Awaitable, Callable

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer

SEND_TIMEOUT_S = 5.0


def _run(loop: asyncio.AbstractEventLoop) -> None:
    try:
        loop.run_forever()
    finally:
        loop.close()  # on its own thread: channels-redis closes the connections it opened on it


class _LoopThread:
    def __init__(self):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=_run, args=(loop,), name="channel-layer-sends", daemon=True)
                thread.start()
                self._loop, self._thread, self._pid = loop, thread, os.getpid()
            return self._loop

    def stop(self) -> None:
        """End the loop; closing it closes the connections channels-redis opened on it."""
        with self._lock:
            loop, thread, pid = self._loop, self._thread, self._pid
            self._loop = self._thread = self._pid = None
        if loop is None or pid != os.getpid():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(SEND_TIMEOUT_S)


_sender = _LoopThread()


def reset() -> None:
    """Close the sending loop (tests, before they replace the channel layers)."""
    _sender.stop()


def _pooled(layer: BaseChannelLayer) -> bool:
    return type(layer).__module__.startswith("channels_redis.")


def run_on_layer(layer: BaseChannelLayer, make_coroutine: Callable[[], Awaitable[None]]) -> None:
    """Run ``make_coroutine()`` (sends on ``layer``) to its end from sync code; its errors are raised
    here, and a send that takes longer than ``SEND_TIMEOUT_S`` raises TimeoutError."""
    if not _pooled(layer):
        async_to_sync(make_coroutine)()
        return
    future = asyncio.run_coroutine_threadsafe(make_coroutine(), _sender.loop())
    try:
        future.result(timeout=SEND_TIMEOUT_S)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise TimeoutError(f"channel layer send took over {SEND_TIMEOUT_S:.0f} s") from None
