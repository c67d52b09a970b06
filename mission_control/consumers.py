"""``/ws/events/``: every event as it happens, scoped to the caller's businesses.

Query: ``business=<slug>`` (one business), ``kinds=a,b`` (filter), ``after=<id>`` (replay what was
missed since that id before going live: how a page catches up after a lost connection),
``token=<operator token>`` when there is no session.
"""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils.module_loading import import_string

from mission_control.events import ALL_GROUP, GLOBAL_GROUP, business_group, event_scope
from mission_control.models import Event
from mission_control.params import id_or_none

REPLAY_LIMIT = 500
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class EventStreamConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        params = {k: v[-1] for k, v in parse_qs(self.scope.get("query_string", b"").decode()).items()}
        user = self.scope.get("user")
        if params.get("token"):
            user = await database_sync_to_async(import_string(settings.MC_WS_TOKEN_USER))(params["token"])
        if user is None or not getattr(user, "is_authenticated", False):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        try:
            self.business_ids = await database_sync_to_async(event_scope)(
                user, params.get("business") or None
            )
        except LookupError:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.kinds = {k for k in params.get("kinds", "").split(",") if k}
        self.only_business = bool(params.get("business"))
        if self.business_ids is None:
            self.groups_joined = [ALL_GROUP]
        else:
            self.groups_joined = [business_group(b) for b in self.business_ids]
            if not self.only_business:
                self.groups_joined.append(GLOBAL_GROUP)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.last_replayed = 0
        after = id_or_none(params.get("after"))
        if after is not None:
            for message in await self._missed(after):
                self.last_replayed = message["id"]
                await self.send_json(message)

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # The stream is one-way; a ping keeps proxies from closing an idle socket.
        if content == {"type": "ping"}:
            await self.send_json({"type": "pong"})

    async def event_message(self, message):
        event = message["event"]
        if event["id"] <= self.last_replayed:
            return
        if self.kinds and event["kind"] not in self.kinds:
            return
        await self.send_json(event)

    @database_sync_to_async
    def _missed(self, after_id: int) -> list[dict]:
        qs = Event.objects.filter(id__gt=after_id).order_by("id")
        if self.business_ids is not None:
            scope = list(self.business_ids)
            qs = (
                qs.filter(business_id__in=scope)
                if self.only_business
                else qs.filter(business_id__in=scope) | qs.filter(business_id__isnull=True)
            )
        if self.kinds:
            qs = qs.filter(kind__in=self.kinds)
        return [e.as_message() for e in qs.order_by("id")[:REPLAY_LIMIT]]
