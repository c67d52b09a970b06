"""The event bus: record an event, then (after commit) wake its live readers.

``publish`` writes the append-only ``Event`` row inside the caller's transaction, so an event
exists exactly when the change it describes does, and wakes the channel layer's groups only once
that transaction commits. The table is the source of truth: live readers read it in id order up to
a horizon no late commit can fall under (``mission_control/stream.py``), the channel layer only
tells them when to look.
"""

import logging
from dataclasses import dataclass

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.module_loading import import_string

from mission_control.bulk_insert import copy_rows, insert_rows, new_row
from mission_control.layer_send import run_on_layer
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


def publish_many(events: list[Event], ids: list[int] | None = None) -> list[Event]:
    """Bulk-record prepared (unsaved) events, e.g. from batch ingestion, and deliver after commit.
    ``ids``: taken beforehand (:func:`mission_control.bulk_insert.allocate_ids`)."""
    created = insert_rows(events, ids=ids)
    if created and created[0].pk is None:  # backends without RETURNING: reload by natural order
        created = list(Event.objects.order_by("-id")[: len(events)])[::-1]
    transaction.on_commit(lambda: deliver_many(created))
    return created


# What publish_rows takes per event, in this order (the id comes from its ``ids``).
ROW_FIELDS = (
    "ts",
    "kind",
    "business_id",
    "business_slug",
    "agent_id",
    "execution_id",
    "actor",
    "message",
    "data",
)


def publish_rows(rows: list[tuple], ids: list[int] | None = None) -> None:
    """:func:`publish_many` for events given as tuples of :data:`ROW_FIELDS` (a batch's thousand),
    copied without an ``Event`` instance each when ``ids`` were taken beforehand (PostgreSQL)."""
    if ids is None or len(ids) != len(rows):
        publish_many([new_row(Event, **dict(zip(ROW_FIELDS, row, strict=True))) for row in rows])
        return
    copy_rows(Event, ["id", *ROW_FIELDS], ((pk, *row) for pk, row in zip(ids, rows, strict=True)))
    business = ROW_FIELDS.index("business_id")
    woken = [(row[business], pk) for pk, row in zip(ids, rows, strict=True)]
    transaction.on_commit(lambda: _wake(woken))


def deliver_many(events: list[Event]) -> None:
    """Wake the live readers of these events' businesses: one message per group, whatever the number
    of events. The message carries no event: readers read the table (``mission_control/stream.py``),
    so a wake-up lost to a full channel or a Redis restart delays an event, never drops it."""
    _wake([(event.business_id, event.pk) for event in events])


def _wake(events: list[tuple[int | None, int]]) -> None:
    """Wake the readers of ``(business id, event id)`` pairs (see :func:`deliver_many`)."""
    layer = get_channel_layer()
    if layer is None or not events or CHANNEL_LAYER.down():
        return
    by_business: dict[int | None, int] = {}  # a batch's thousand events: a few businesses
    for business_id, pk in events:
        if pk > by_business.get(business_id, 0):
            by_business[business_id] = pk
    newest = {business_group(business_id): pk for business_id, pk in by_business.items()}
    newest[ALL_GROUP] = max(by_business.values())

    async def send_all():
        for group, upto in newest.items():
            await layer.group_send(group, {"type": "events.wake", "upto": upto})

    for attempt in (1, 2):  # after a Redis restart the first try meets a dead pooled connection
        try:
            run_on_layer(layer, send_all)
            CHANNEL_LAYER.recovered()
            return
        except REDIS_ERRORS as exc:
            if attempt == 2:  # readers poll the table meanwhile: late, never lost
                CHANNEL_LAYER.note("live events", exc)
        except Exception:
            logger.warning("could not wake live readers of %s events", len(events), exc_info=True)
            return


def deliver(event: Event) -> None:
    deliver_many([event])


# What an agent key may read beyond its own events: the fleet-wide controls it must obey.
AGENT_CONTROL_KINDS = ("emergency_stop.engaged", "emergency_stop.released")


@dataclass(frozen=True)
class EventScope:
    """Which events a caller may read: the one rule behind ``GET /events`` and ``/ws/events/``.

    ``business_ids`` None means every business (a superuser); ``include_global`` adds the events
    that belong to no business (a global emergency stop); ``agent_id`` narrows an agent key to its
    own events plus :data:`AGENT_CONTROL_KINDS` of its business and global ones.
    """

    business_ids: tuple[int, ...] | None
    include_global: bool = True
    agent_id: int | None = None

    def q(self) -> Q:
        if self.agent_id is not None:
            mine = Q(business_id__in=self.business_ids or ()) & (
                Q(agent_id=self.agent_id) | Q(kind__in=AGENT_CONTROL_KINDS)
            )
            controls = Q(business_id__isnull=True, kind__in=AGENT_CONTROL_KINDS)
            return mine | controls if self.include_global else mine
        if self.business_ids is None:
            return Q()
        mine = Q(business_id__in=self.business_ids)
        return mine | Q(business_id__isnull=True) if self.include_global else mine


def event_scope(user, business_slug: str | None) -> EventScope:
    """The events ``user`` may read, narrowed to one business by slug. Raises LookupError for a
    business the user may not see. Resolved through ``settings.MC_EVENT_SCOPE`` because the bus
    knows nothing of the governance app that decides it."""
    return import_string(settings.MC_EVENT_SCOPE)(user, business_slug)
