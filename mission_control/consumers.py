"""``/ws/events/``: the caller's events in id order, each exactly once, nothing lost across reconnects.

The protocol (the README's "Live events" says the same for client authors):

- Connect to ``/ws/events/?after=<id>&business=<slug>&kinds=a,b`` with the page's session or
  ``token=<operator token or agent key>``. Without ``after`` the stream starts now.
- The server sends events (``{"id", "ts", "kind", "business", "agent", "execution", "actor",
  "message", "data"}``) in increasing id order, each once, and only once no event with a lower id can
  still commit: the event table is read up to a horizon (``mission_control/stream.py``), and the
  channel layer only wakes the socket up, so a lost wake-up or a Redis restart delays, never drops.
- To resume after any close, reconnect with ``after=<id of the last event you processed>``: the server
  replays everything since, page by page, then goes live.
- Client messages: ``{"type": "ping"}`` (answered ``{"type": "pong", "after": <newest id sent>}``) and
  ``{"type": "ack", "id": <last id processed>}``. A client that acks gets at most ``MC_WS_WINDOW``
  events beyond its last ack; one that leaves its window full for ``MC_WS_STALL_S`` seconds while
  events wait gets ``{"type": "resync", "after": <its last ack>, "detail"}`` and close code 4429:
  catch up with ``GET /api/v1/events/?after=<last id processed>`` (follow ``next``), then reconnect.
- Close codes: 4401 not authenticated (also once a token, key or session is revoked), 4403 forbidden
  (a foreign Origin), 4404 no such business (also once the caller is no longer a member), 4429 too
  far behind. A socket over all the caller's businesses narrows instead when a membership ends.
"""

import asyncio
import contextlib
import logging
from collections import deque
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from mission_control.events import ALL_GROUP, GLOBAL_GROUP, business_group, event_scope
from mission_control.params import id_or_none
from mission_control.stream import Horizon, events_after, stream_position
from mission_control.ws_security import (
    CLOSE_BEHIND,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    principal_for,
)

logger = logging.getLogger(__name__)

BATCH = 500  # events read and sent per step of a replay
WAITING_POLL_S = 0.1  # how soon to look again while a gap holds the horizon back
TASK_END_S = 5.0  # how long a closing socket waits for its tasks to end
CANCEL_AGAIN_S = 1.0  # a task still running this long after its cancellation is cancelled again
RECHECK_AGAIN_S = 1.0


async def _end(tasks: list[asyncio.Task]) -> None:
    """Wait for cancelled tasks to end, cancelling again those still running after
    ``CANCEL_AGAIN_S``: the socket is gone once they are, and nothing of it keeps polling the table
    or Redis. (A cancellation can be lost under a listener: redis-py retries a read that failed while
    the cancellation was being handled, and the retried read waits for Redis as if nothing happened;
    a task was seen still waiting there 30 s after its socket closed.)"""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TASK_END_S
    pending = set(tasks)
    while pending:
        _, pending = await asyncio.wait(pending, timeout=min(CANCEL_AGAIN_S, max(deadline - loop.time(), 0)))
        if pending and loop.time() >= deadline:
            logger.warning(
                "event stream: %d task(s) still running %.0f s after close", len(pending), TASK_END_S
            )
            return
        for task in pending:
            task.cancel()


class EventStreamConsumer(AsyncJsonWebsocketConsumer):
    # Channels would feed the channel layer into dispatch() and end the socket at the first Redis
    # error; this consumer listens on its own task (``_listen``) so that a Redis outage costs only
    # wake-ups: the socket keeps polling the table and rejoins its groups once Redis is back.
    channel_layer_alias = None
    closed = False  # set by disconnect(); the two loops end at their next turn

    async def connect(self):
        self.tasks: list[asyncio.Task] = []
        self.joined: set[str] = set()
        # Where "now" is, taken before the client sees the socket open: whatever commits after that
        # reaches a client that connected without after=.
        start = await database_sync_to_async(stream_position)()
        await self.accept()  # refusals below reach the client as close codes, not an HTTP 403
        params = {k: v[-1] for k, v in parse_qs(self.scope.get("query_string", b"").decode("latin1")).items()}
        self.token = params.get("token") or None
        self.business_slug = params.get("business") or None
        self.kinds = frozenset(k for k in params.get("kinds", "").split(",") if k)
        if not await self._authorize():
            return
        after = id_or_none(params.get("after"))
        self.horizon = Horizon(start)
        self.cursor = start if after is None else after  # the newest id the client has (or skips)
        self.unacked: deque[int] | None = None  # ids sent beyond the last ack, once the client acks
        self.stalled_since: float | None = None
        self.wake = asyncio.Event()
        self.layer = get_channel_layer()
        self.wake_channel = await self.layer.new_channel() if self.layer else None
        await self._safely(self._join())
        # A change between the check above and joining the access groups sent its notice to no one:
        # check once more now that notices reach this socket.
        self.recheck_due = True
        self.tasks = [asyncio.create_task(self._pump())]
        if self.layer is not None:
            self.tasks.append(asyncio.create_task(self._listen()))

    async def disconnect(self, code):
        self.closed = True  # even if a cancellation below is lost, the loops end
        others = [task for task in self.tasks if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        for group in list(self.joined):
            await self._safely(self.layer.group_discard(group, self.wake_channel))
        if others:
            await _end(others)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or not hasattr(self, "wake"):
            return
        if content.get("type") == "ping":
            await self.send_json({"type": "pong", "after": self.cursor})
        elif content.get("type") == "ack" and isinstance(content.get("id"), int):
            if self.unacked is None:
                self.unacked = deque()
            while self.unacked and self.unacked[0] <= content["id"]:
                self.unacked.popleft()
            self.wake.set()

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        with contextlib.suppress(ValueError):  # not JSON: the stream ignores what it does not understand
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)

    # --- access ---------------------------------------------------------------------------------

    async def _authorize(self) -> bool:
        """(Re-)authenticate the caller and (re-)compute what they may read; close if they may not."""
        principal = await principal_for(self.scope, self.token)
        if principal is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return False
        try:
            self.event_scope = await database_sync_to_async(event_scope)(principal.user, self.business_slug)
        except LookupError:
            await self.close(code=CLOSE_NOT_FOUND)
            return False
        self.principal = principal
        return True

    def _wanted_groups(self) -> set[str]:
        wanted = set(self.principal.groups)
        if self.event_scope.business_ids is None:
            wanted.add(ALL_GROUP)
        else:
            wanted.update(business_group(b) for b in self.event_scope.business_ids)
            if self.event_scope.include_global:
                wanted.add(GLOBAL_GROUP)
        return wanted

    async def _join(self, *, again: bool = False) -> None:
        """Join the wake-up and access groups the caller needs now, leave the others. ``again``
        re-adds every group (after a Redis restart emptied them)."""
        if self.layer is None:
            return
        wanted = self._wanted_groups()
        for group in wanted if again else wanted - self.joined:
            await self.layer.group_add(group, self.wake_channel)
        for group in self.joined - wanted:
            await self.layer.group_discard(group, self.wake_channel)
        self.joined = wanted

    # --- the two tasks ------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Turn channel-layer messages into flags for the pump. Survives Redis going away."""
        broken = False
        while not self.closed:
            try:
                if broken:
                    await self._join(again=True)
                    broken = False
                    self.wake.set()  # look for what was committed while Redis was away
                message = await self.layer.receive(self.wake_channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if asyncio.current_task().cancelling():
                    # The socket is closing, but the layer's receive turned the cancellation into
                    # its own error (channels-redis re-raises a broken connection's error from its
                    # cancel handler): end, or this loop would outlive the socket, retrying forever.
                    raise asyncio.CancelledError from exc
                if not broken:
                    logger.warning("event stream lost the channel layer (%s); polling until it is back", exc)
                broken = True
                await asyncio.sleep(1)
                continue
            if message.get("type") == "access.changed":
                self.recheck_due = True
                # A notice may come before the change it announces can be read (Django announces a
                # logout, then flushes the session): look again a moment later too.
                asyncio.get_running_loop().call_later(RECHECK_AGAIN_S, self._recheck_soon)
            self.wake.set()

    def _recheck_soon(self) -> None:
        self.recheck_due = True
        self.wake.set()

    async def _pump(self) -> None:
        """Deliver what the table holds up to the horizon whenever woken (or every poll), re-check
        access when told to (or every ``MC_WS_RECHECK_S``)."""
        loop = asyncio.get_running_loop()
        next_recheck = loop.time() + settings.MC_WS_RECHECK_S
        try:
            while not self.closed:
                if self.recheck_due or loop.time() >= next_recheck:
                    self.recheck_due = False
                    next_recheck = loop.time() + settings.MC_WS_RECHECK_S
                    if not await self._authorize():
                        return
                    await self._safely(self._join())
                if not await self._deliver():
                    return
                timeout = WAITING_POLL_S if self.horizon.waiting else settings.MC_WS_POLL_S
                # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the result when the
                # task is cancelled just as the wake-up lands, losing the cancellation, and the pump
                # of a closed socket went on polling the table for ever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self.wake.wait()
                self.wake.clear()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("event stream failed")
            await self.close(code=1011)

    async def _deliver(self) -> bool:
        """Send the caller's events up to the horizon, within the ack window. False once closed."""
        final = await database_sync_to_async(self.horizon.advance)()
        while self.cursor < final:
            room = BATCH if self.unacked is None else settings.MC_WS_WINDOW - len(self.unacked)
            if room <= 0:
                return await self._stalled()
            limit = min(BATCH, room)
            batch = await database_sync_to_async(events_after)(
                self.event_scope, after=self.cursor, upto=final, kinds=self.kinds, limit=limit
            )
            for message in batch:
                await self.send_json(message)
            if self.unacked is not None:
                self.unacked.extend(m["id"] for m in batch)
            self.cursor = batch[-1]["id"] if len(batch) == limit else final
        self.stalled_since = None
        return True

    async def _stalled(self) -> bool:
        """The window is full and events wait: give the client ``MC_WS_STALL_S`` to ack, then tell
        it where to catch up from and close."""
        now = asyncio.get_running_loop().time()
        if self.stalled_since is None:
            self.stalled_since = now
        if now - self.stalled_since < settings.MC_WS_STALL_S:
            return True
        after = self.unacked[0] - 1 if self.unacked else self.cursor
        await self.send_json(
            {
                "type": "resync",
                "after": after,
                "detail": "Too far behind: read GET /api/v1/events/?after=<last id you processed> "
                "(following next), then reconnect with after=<the last id read>.",
            }
        )
        await self.close(code=CLOSE_BEHIND)
        return False

    async def _safely(self, coroutine) -> None:
        """Group changes while Redis is away: the listener rejoins once it is back, and a group
        left behind expires on its own."""
        try:
            await coroutine
        except Exception as exc:
            logger.info("event stream could not update its groups: %s", exc)
