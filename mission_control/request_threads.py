"""The threads that run requests' sync code under ASGI: kept and reused, not one started per request.

Django's ASGI handler serves each request in a ``ThreadSensitiveContext`` of its own, so that the
request's sync code (middleware, view, ``request_finished``) runs on one thread, in order. Without an
executor, asgiref makes that thread for the request and, on the way out, starts a second one to join
it: two ``Thread.start`` per request, each run on the event loop and each waiting there until the new
thread has taken the GIL once. Measured with py-spy on ``bench claims``, that was most of the loop's
busy time per claim (~3 ms of ~4), during which no other request, ring or answer moved.

Here each request's context gets a one-thread executor from a free list (``ThreadSensitiveContext(
executor=...)``) and gives it back when it ends. A request still runs all its sync code on one
thread, alone on it; two requests never share a thread at the same time. A thread is given back only
once nothing of its request is queued or running on it (a request cancelled while its view ran keeps
running on its thread: that thread is retired, not reused). At most ``KEEP`` idle threads are kept;
past that a returning thread is ended.

What a reused thread carries from one request to the next is what a WSGI worker's thread carries:
its thread-local database wrapper, closed (back to the pool) by ``request_finished`` at the end of
each request as before.
"""

import threading
from collections.abc import AsyncIterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager

from asgiref.sync import ThreadSensitiveContext

KEEP = 32  # idle threads kept; a process has rarely more requests in Django's code at once


class OneThread(ThreadPoolExecutor):
    """A one-thread executor that knows whether anything submitted to it is still queued or running."""

    def __init__(self):
        super().__init__(max_workers=1, thread_name_prefix="mc-request")
        self._count_lock = threading.Lock()
        self._unfinished = 0

    def submit(self, fn, /, *args, **kwargs) -> Future:
        with self._count_lock:
            self._unfinished += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._finished(None)
            raise
        # Added before the caller's own callbacks, so it has run by the time the caller resumes.
        future.add_done_callback(self._finished)
        return future

    def _finished(self, _future) -> None:
        with self._count_lock:
            self._unfinished -= 1

    def idle(self) -> bool:
        with self._count_lock:
            return self._unfinished == 0


class RequestThreads:
    """The process's free list of request threads."""

    def __init__(self, keep: int = KEEP):
        self.keep = keep
        self._lock = threading.Lock()
        self._idle: list[OneThread] = []
        self.started = 0  # threads made so far (for tests and benchmarks)

    def take(self) -> OneThread:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self.started += 1
        return OneThread()

    def give_back(self, executor: OneThread) -> None:
        if executor.idle():
            with self._lock:
                if len(self._idle) < self.keep:
                    self._idle.append(executor)
                    return
        executor.shutdown(wait=False)  # its thread ends once its work (if any) is done; no join

    def idle_count(self) -> int:
        with self._lock:
            return len(self._idle)

    @asynccontextmanager
    async def context(self) -> AsyncIterator[None]:
        """A ``ThreadSensitiveContext`` on a kept thread: use as ``async with threads.context():``."""
        executor = self.take()
        try:
            async with ThreadSensitiveContext(executor=executor):
                yield
        finally:
            self.give_back(executor)


threads = RequestThreads()
