"""A WebSocket client that follows the event stream's protocol through a fault campaign: it
reconnects every ``every`` seconds (and whenever the connection drops, web or Redis being down)
with ``after=<the last id it got>``, and records every event id it receives, in order."""

import asyncio
import itertools
import json
import threading
import time

import websockets

# Control messages a server may send to say "catch up from id N" (names tried in order).
CATCH_UP_KEYS = ("catch_up_from", "resume_after", "after")


class StreamClient:
    def __init__(
        self, *, ws_url: str, token: str, business: str, after: int, stop: threading.Event, every: float = 30
    ):
        self.base = f"{ws_url}/ws/events/?token={token}&business={business}"
        self.after, self.stop, self.every = after, stop, every
        self.first_after = after
        self.ids: list[int] = []
        self.connects = 0
        self.drops = 0
        self.notices: list[dict] = []
        self.thread = threading.Thread(target=lambda: asyncio.run(self.run()), daemon=True)

    async def run(self) -> None:
        while not self.stop.is_set():
            try:
                async with websockets.connect(f"{self.base}&after={self.after}", open_timeout=5) as ws:
                    self.connects += 1
                    ends = time.monotonic() + self.every
                    while not self.stop.is_set() and time.monotonic() < ends:
                        try:
                            raw = await asyncio.wait_for(ws.recv(), timeout=1)
                        except TimeoutError:
                            continue
                        self.take(json.loads(raw))
            except (OSError, websockets.WebSocketException, TimeoutError):
                self.drops += 1
                await asyncio.sleep(1)

    def take(self, message: dict) -> None:
        if isinstance(message.get("id"), int):
            self.ids.append(message["id"])
            self.after = max(self.after, message["id"])
            return
        self.notices.append(message)
        for key in CATCH_UP_KEYS:
            if isinstance(message.get(key), int):
                self.after = message[key]
                break


def stream_complete(client: StreamClient, business_id: int, until_id: int) -> tuple[bool, str]:
    """Every event of the business after the client's first ``after`` (up to ``until_id``) arrived
    exactly once, in id order."""
    from mission_control.models import Event

    expected = list(
        Event.objects.filter(business_id=business_id, id__gt=client.first_after, id__lte=until_id)
        .order_by("id")
        .values_list("id", flat=True)
    )
    got = [i for i in client.ids if i <= until_id]
    missing = len(set(expected) - set(got))
    duplicates = len(got) - len(set(got))
    disorder = sum(1 for a, b in itertools.pairwise(got) if b < a)
    figure = (
        f"{len(expected)} events, {missing} missed, {duplicates} twice, {disorder} out of order; "
        f"{client.connects} connections, {client.drops} drops, {len(client.notices)} control messages"
    )
    return missing == duplicates == disorder == 0, figure
