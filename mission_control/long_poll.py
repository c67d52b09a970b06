"""Long-polls served below Django's request cycle: while one waits, almost nothing of it is alive.

A long-polling view (marked ``mc_long_poll``: the pull agents' claim) may wait 30 s for its
answer, and a fleet keeps a thousand of them waiting in one daphne process. Served as an ordinary
request, each waiting one kept Django's whole request alive for those 30 s: its ``ASGIRequest``,
the thread of its ``ThreadSensitiveContext`` with that thread's ``DatabaseWrapper``, the asyncio
context's own cache backend... ~290 objects per waiting claim, which every full collection of
CPython's collector walked with the event loop stopped (docs/scaling.md, *claims*).

Here such a request is served as a series of looks. Each look is one ordinary pass through Django
(a request built from the same scope and body, the middleware, the view, ``request_started`` and
``request_finished``) in a task and a ``ThreadSensitiveContext`` of its own, on a thread taken from
the process's kept request threads (``mission_control.request_threads``) and given back when the
pass ends, so whatever the pass made (its request, the context's cache backend) is dropped then,
and no thread is held while it waits. A look whose view found nothing answers a response carrying
``mc_wait`` (``request.mc_can_wait`` tells the view it may): that response is recorded as the ASGI
messages it would send, then closed. Between looks only the scope, the body, those messages and the wait are kept.
When ``await wait()`` returns True (new work rang) the next look runs with ``request.mc_waited``;
when it returns False the recorded answer is sent. A client that disconnects ends it all, the
look or the wait cancelled as Django cancels a request whose client left.
"""

import asyncio
import functools
import io

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import close_old_connections
from django.urls import Resolver404, resolve, set_script_prefix

from mission_control.request_threads import threads


def is_long_poll(scope: dict) -> bool:
    """True when ``scope`` is an HTTP request for a view marked ``mc_long_poll``, with a body small
    enough to keep (a larger one is Django's to refuse, as any other request's)."""
    if scope["type"] != "http" or _declared_length(scope) > (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 1 << 62):
        return False
    prefix = get_script_prefix(scope)
    path = scope["path"].removeprefix(prefix) if prefix else scope["path"]
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return getattr(getattr(match.func, "view_class", match.func), "mc_long_poll", False)


async def serve(handler: ASGIHandler, scope: dict, receive, send) -> None:
    """Serve one long-polling request: look, wait, look again... (see the module's docstring)."""
    body = await _body(handler, receive)
    if body is None:
        return
    # The client leaving cancels this task, and with it the pass or the wait it is in.
    gone = asyncio.create_task(_disconnected(receive))
    leave = functools.partial(_leave, asyncio.current_task())
    gone.add_done_callback(leave)
    waiting = None
    try:
        # Each pass in a task of its own, so that whatever it set in its context ends with it.
        found = await asyncio.create_task(_look(handler, scope, body, send, None))
        while found is not None:
            waiting, answer = found
            found = None
            if not await waiting.wait():
                for message in answer:
                    await send(message)
                return
            found = await asyncio.create_task(_look(handler, scope, body, send, waiting))
    except asyncio.CancelledError:
        if not gone.done() or gone.cancelled():
            raise  # cancelled from outside, not by the client leaving
    finally:
        gone.remove_done_callback(leave)
        gone.cancel()
        if waiting is not None:
            waiting.release()  # a wait cancelled before it began holds its bell still


async def _body(handler: ASGIHandler, receive) -> bytes | None:
    try:
        spooled = await handler.read_body(receive)
    except RequestAborted:
        return None
    with spooled:
        return spooled.read()  # each pass closes its request's stream: each gets its own


def _leave(task: asyncio.Task, gone: asyncio.Task) -> None:
    if not gone.cancelled():
        task.cancel()


async def _look(handler: ASGIHandler, scope: dict, body: bytes, send, waited) -> tuple | None:
    """One pass through Django. Sends its answer and returns None, or returns the wait its view
    asked for and the answer to send if the wait brings nothing."""
    async with threads.context():
        try:
            set_script_prefix(get_script_prefix(scope))
            await signals.request_started.asend(sender=handler.__class__, scope=scope)
            request, error_response = handler.create_request(scope, io.BytesIO(body))
            if request is None:
                await handler.send_response(error_response, send)
                await sync_to_async(error_response.close)()
                return None
            request.mc_can_wait = True
            request.mc_waited = waited
            response = await handler.run_get_response(request)
            del request
            waiting = getattr(response, "mc_wait", None)
            answer: list[dict] = []
            await handler.send_response(response, send if waiting is None else _recorder(answer))
            await sync_to_async(response.close)()  # request_finished: this pass's connections
            return None if waiting is None else (waiting, answer)
        except BaseException:
            # As PoolSafeASGIHandler.handle: a pass that failed after opening connections.
            await sync_to_async(close_old_connections, thread_sensitive=True)()
            raise


def _declared_length(scope: dict) -> int:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def _recorder(messages: list):
    async def record(message: dict) -> None:
        messages.append(message)

    return record


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
