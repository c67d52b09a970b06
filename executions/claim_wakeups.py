"""Waiting claims wake on new work instead of polling the ledger.

A long-polling claim registers a bell for its agent *before* its first look at the ledger, then
sleeps on it with no database connection held: in its thread (WSGI), or, under the ASGI server, as a
future on the event loop with no thread at all (``mission_control/asgi_handler.py``). New claimable work for a pull agent rings the
agent's bell after its transaction commits: in this process at once, and in every other process
through one Redis pub/sub channel, followed by one listener thread per process. A bell rung between
a claim's look and its sleep is not lost (the bell stays rung), and the claim itself still takes
rows under ``SKIP LOCKED``, so waking many claims for one execution hands it out once.

Without Redis (the embedded default) the worker runs inside the web process, so the local ring is
all there is. While the listener is not connected (Redis down, reconnecting) waiting claims poll
every ``CLAIM_POLL_S`` as before, and on every (re)connection every waiting claim looks once, in
case a ring was published while nobody listened.
"""

import asyncio
import logging
import threading
import time
from collections import defaultdict

from django.conf import settings

from mission_control import shutdown
from mission_control.redis_client import redis_client
from mission_control.redis_outage import CACHE

logger = logging.getLogger(__name__)

CHANNEL = "mc:work"


class Bell:
    """One waiting claim's bell: rung from any thread, heard by a thread (``wait``) or by a
    coroutine on an event loop (``wait_async``). A ring nobody is waiting for yet stays rung.

    A thousand of them wait at once in a web process, and the collector walks each on every full
    pass: a bell is a flag and a lock, and what a waiter needs (a ``threading.Event``, or a future
    and a timer) only while it waits."""

    __slots__ = ("_event", "_future", "_lock", "_loop", "_rung")

    def __init__(self):
        self._lock = threading.Lock()
        self._rung = False
        self._event: threading.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._future: asyncio.Future | None = None

    def set(self) -> None:
        with self._lock:
            self._rung = True
            event, loop, future = self._event, self._loop, self._future
        if event is not None:
            event.set()
        if future is not None:
            loop.call_soon_threadsafe(_resolve, future)

    def is_set(self) -> bool:
        return self._rung

    def clear(self) -> None:
        with self._lock:
            self._rung = False

    def _take(self) -> bool:
        with self._lock:
            rung, self._rung = self._rung, False
        return rung

    def wait(self, seconds: float) -> bool:
        """Block this thread until rung or ``seconds`` pass; True when rung (and clears it)."""
        with self._lock:
            if self._event is None:
                self._event = threading.Event()
            event = self._event
            if self._rung:
                event.set()
        event.wait(seconds)
        event.clear()
        return self._take()

    async def wait_async(self, seconds: float) -> bool:
        """Wait on the running event loop; True when rung (and clears it)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if not self._rung:
                self._loop, self._future = loop, future
        if self._future is future:
            timer = loop.call_later(seconds, _resolve, future)  # rung or not: _take says
            try:
                await future
            finally:
                timer.cancel()
                with self._lock:
                    self._loop = self._future = None
        return self._take()


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class Bells:
    """The claims waiting in this process, by agent."""

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting: dict[int, set[Bell]] = defaultdict(set)

    def register(self, agent_id: int) -> Bell:
        bell = Bell()
        with self._lock:
            self._waiting[agent_id].add(bell)
        return bell

    def unregister(self, agent_id: int, bell: Bell) -> None:
        with self._lock:
            waiting = self._waiting.get(agent_id)
            if waiting is not None:
                waiting.discard(bell)
                if not waiting:
                    del self._waiting[agent_id]

    def ring(self, agent_id: int) -> None:
        with self._lock:
            bells = list(self._waiting.get(agent_id, ()))
        for bell in bells:
            bell.set()

    def ring_all(self) -> None:
        with self._lock:
            bells = [bell for waiting in self._waiting.values() for bell in waiting]
        for bell in bells:
            bell.set()

    def count(self) -> int:
        with self._lock:
            return sum(len(waiting) for waiting in self._waiting.values())


bells = Bells()
shutdown.when_stopping(bells.ring_all)  # a stopping server answers its long-polls at once


def ring(agent_id: int) -> None:
    """New claimable work for ``agent_id`` (call after commit): wake its waiting claims everywhere."""
    bells.ring(agent_id)
    client = redis_client()
    if client is not None:
        CACHE.or_default("claim wake-ups", lambda: client.publish(CHANNEL, str(agent_id)), None)


class Listener:
    """One thread per process following the channel (started by the first waiting claim)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()
        self.generation = 0  # one more at every (re)connection

    def heard_everything_since(self, generation: int) -> bool:
        """True when every ring published since ``generation`` was read reached this process
        (connected all along, no reconnection in between): a wait that heard no ring missed none."""
        if not settings.REDIS_URL:
            return True
        return self.connected.is_set() and self.generation == generation

    def ensure_started(self) -> bool:
        """Start the thread if need be; True while it is connected (rings reach this process)."""
        if not settings.REDIS_URL:
            return True  # one process: local rings are every ring
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="claim-wakeups", daemon=True)
                    self._thread.start()
        return self.connected.is_set()

    def _run(self) -> None:
        import redis

        while True:
            try:
                client = redis.Redis.from_url(
                    settings.REDIS_URL,
                    socket_connect_timeout=2,
                    socket_keepalive=True,
                    health_check_interval=15,
                )
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                self.generation += 1
                self.connected.set()
                bells.ring_all()  # anything published while nobody listened: look once
                while True:
                    message = pubsub.get_message(timeout=5.0)
                    if message and message.get("type") == "message":
                        bells.ring(int(message["data"]))
            except Exception as exc:
                if self.connected.is_set():
                    logger.warning(
                        "claim wake-ups lost Redis (%s): waiting claims poll until it is back", exc
                    )
                self.connected.clear()
                bells.ring_all()
                time.sleep(1.0)


listener = Listener()
