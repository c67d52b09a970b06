"""The event bus: record an event, then (after commit) push it to live listeners.

``publish`` writes the append-only ``Event`` row inside the caller's transaction, so an event
exists exactly when the change it describes does, and hands it to the channel layer only once
that transaction commits: a page never sees an event for a change that was rolled back.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from mission_control.models import Event
from mission_control.redis_outage import CHANNEL_LAYER, REDIS_ERRORS

logger = logging.getLogger(__name__)

# Superusers watching everything join ALL; everyone else joins their businesses' groups and
# GLOBAL, which carries events that belong to no business (a global emergency stop, say).
ALL_GROUP = "events.all"
GLOBAL_GROUP = "events.global"


def business_group(business_id: int | None) -> str:
    return f"events.{business_id}" if business_id is not None else GLOBAL_GROUP


def publish(
    *,
    kind: str,
    business=None,
    message: str = "",
    agent_id: int | None = None,
    execution_id: int | None = None,
    actor: str = "",
    data: dict | None = None,
) -> Event:
    """Record an event and deliver it to the business's live group after commit.

    ``business`` is any object with ``id`` and ``slug`` (or None for system-wide events).
    """
    event = Event.objects.create(
        kind=kind,
        business_id=getattr(business, "id", None),
        business_slug=getattr(business, "slug", "") or "",
        agent_id=agent_id,
        execution_id=execution_id,
        actor=actor[:150],
        message=message[:500],
        data=data or {},
    )
    transaction.on_commit(lambda: deliver(event))
    return event


def publish_many(events: list[Event]) -> list[Event]:
    """Bulk-record prepared (unsaved) events, e.g. from batch ingestion, and deliver after commit."""
    created = Event.objects.bulk_create(events)
    if created and created[0].pk is None:  # backends without RETURNING: reload by natural order
        created = list(Event.objects.order_by("-id")[: len(events)])[::-1]
    transaction.on_commit(lambda: deliver_many(created))
    return created


def deliver_many(events: list[Event]) -> None:
    """Deliver many events in one trip into the event loop (one ``async_to_sync`` per event
    costs a thread hand-off each: most of a 1000-row ingestion batch's time)."""
    layer = get_channel_layer()
    if layer is None or not events or CHANNEL_LAYER.down():
        return

    async def send_all():
        for event in events:
            payload = {"type": "event.message", "event": event.as_message()}
            await layer.group_send(business_group(event.business_id), payload)
            await layer.group_send(ALL_GROUP, payload)

    try:
        async_to_sync(send_all)()
    except REDIS_ERRORS as exc:
        CHANNEL_LAYER.note("live events", exc)
    except Exception:
        logger.warning("could not deliver %s events to the channel layer", len(events), exc_info=True)


def deliver(event: Event) -> None:
    layer = get_channel_layer()
    if layer is None or CHANNEL_LAYER.down():  # Redis down: the row is there for ?after=<id>
        return
    payload = {"type": "event.message", "event": event.as_message()}
    try:
        send = async_to_sync(layer.group_send)
        send(business_group(event.business_id), payload)
        send(ALL_GROUP, payload)
    except REDIS_ERRORS as exc:
        CHANNEL_LAYER.note("live events", exc)
    except Exception:
        # Live delivery is best effort: the row is committed and pages catch up with ?after=<id>.
        logger.warning("could not deliver event %s to the channel layer", event.pk, exc_info=True)


def event_scope(user, business_slug: str | None) -> list[int] | None:
    """The business ids whose events ``user`` may read (None: all). Raises LookupError for a
    business the user may not see. Resolved through ``settings.MC_EVENT_SCOPE`` because the bus
    knows nothing of the governance app that decides it."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    return import_string(settings.MC_EVENT_SCOPE)(user, business_slug)
