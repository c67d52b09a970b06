"""Reading the event history in id order without skipping an event that commits late.

Ids are drawn when a row is inserted, not when its transaction commits, so event 10 may become
visible after event 11. A reader that moved its cursor to 11 on seeing it would never see 10. A
:class:`Horizon` therefore only vouches for ids that are *final*: every id at or below
``Horizon.final`` that will ever exist is visible now. Readers deliver up to it and no further.

On PostgreSQL: the ids just above ``final`` that are visible in a row (no gap) are final at once.
Beyond a gap, the missing ids were drawn before the later ones committed, by transactions that had
a transaction id already (migration 0003 draws the xid first). So each missing id is either rolled
back or belongs to a transaction that is still running when the scan is over: the reader notes the
transactions running then (``pg_stat_activity``; a snapshot's xip list is not enough, it leaves
out every xid at or above its xmax), and once none of those is running the gap is filled or never
will be, and ``final`` moves past it. Unrelated long transactions in the same database can delay
that, never break it.

On SQLite writers are serialised: whatever is visible is final.
"""

import time

from django.core.cache import cache
from django.db import connection

from mission_control.events import EventScope
from mission_control.models import Event
from mission_control.redis_outage import CACHE

SCAN = 5000  # ids read per step while moving the horizon
# The newest final id any reader has proven, so a new reader starts from it rather than proving
# one from scratch (which may mean waiting for running transactions). Final ids stay final.
FINAL_KEY = "mc:events:final"
FINAL_TTL_S = 120
WHAT = "the live stream's starting point"  # named in the warning when the cache (Redis) is down


class Horizon:
    """Tracks the newest final event id from a starting point that is itself final."""

    def __init__(self, final: int):
        self.final = final
        # (upto, xids): every id <= upto is final once none of xids is running.
        self.pending: tuple[int, list[str]] | None = None

    @property
    def waiting(self) -> bool:
        """True while a gap holds the horizon back (worth checking again soon)."""
        return self.pending is not None

    def advance(self) -> int:
        """Move ``final`` as far as the database proves; returns it. Two short queries at most."""
        if connection.vendor != "postgresql":
            newest = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
            self.final = max(self.final, newest)
            return self.final
        with connection.cursor() as cursor:
            if self.pending is not None:
                upto, xids = self.pending
                if not _any_running(cursor, xids):
                    self.final = max(self.final, upto)
                    self.pending = None
            while True:
                cursor.execute(
                    "SELECT ARRAY(SELECT id FROM mission_control_event WHERE id > %s ORDER BY id LIMIT %s)",
                    [self.final, SCAN],
                )
                ids = cursor.fetchone()[0]
                if not ids:
                    break
                contiguous = self.final
                for event_id in ids:
                    if event_id != contiguous + 1:
                        break
                    contiguous = event_id
                self.final = contiguous
                if self.pending is not None and self.pending[0] <= self.final:
                    self.pending = None
                if contiguous == ids[-1]:
                    if len(ids) < SCAN:
                        break
                    continue
                if self.pending is not None:
                    break
                running = _running(cursor)
                if running:
                    self.pending = (ids[-1], running)
                    break
                self.final = ids[-1]  # nobody was running: the gaps are rolled-back ids, for good
        remember_final(self.final)
        return self.final


def remember_final(final: int) -> None:
    known = CACHE.or_default(WHAT, lambda: cache.get(FINAL_KEY), None) or 0
    if final > known:
        CACHE.or_default(WHAT, lambda: cache.set(FINAL_KEY, final, FINAL_TTL_S), None)


def stream_position(*, settle_s: float = 0.5) -> int:
    """A final id to start reading after, as new as can be proven now.

    From the newest final id some reader proved (kept in the cache) the horizon moves over what is
    visible without a gap; an event still being written below the next gap is then delivered when
    it commits. With nothing cached it waits up to ``settle_s`` for the transactions running now,
    then takes the newest id drawn so far.
    """
    known = CACHE.or_default(WHAT, lambda: cache.get(FINAL_KEY), None)
    if known is None:
        known = _settled_newest(settle_s)
        remember_final(known)
        return known
    return Horizon(known).advance()


def _settled_newest(settle_s: float) -> int:
    """The newest id drawn so far, once the transactions running now have ended (or ``settle_s``
    passed: a transaction older than that may then be missed by a reader starting cold)."""
    if connection.vendor != "postgresql":
        return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END"
            " FROM mission_control_event_id_seq"
        )
        drawn = cursor.fetchone()[0]
        running = _running(cursor)
        deadline = time.monotonic() + settle_s
        while running and _any_running(cursor, running) and time.monotonic() < deadline:
            time.sleep(0.01)
    return drawn


def _running(cursor) -> list[str]:
    """The transactions of this database running now that hold a transaction id.

    Read from ``pg_stat_activity``, which shows every session's ``backend_xid`` to the role that
    owns it: the web, worker and beat processes must connect as one role (or one granted
    ``pg_read_all_stats``). Other databases' transactions are left out (xids are cluster-wide; their
    long transactions must not hold this stream back).
    """
    cursor.execute(
        "SELECT coalesce(array_agg(backend_xid::text), '{}') FROM pg_stat_activity"
        " WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
    )
    return cursor.fetchone()[0]


def _any_running(cursor, xids: list[str]) -> bool:
    if connection.in_atomic_block:  # the view is read once per transaction unless told otherwise
        cursor.execute("SELECT pg_stat_clear_snapshot()")
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_xid = ANY(%s::xid[]))", [xids]
    )
    return cursor.fetchone()[0]


def events_after(
    scope: EventScope, *, after: int, upto: int, kinds: frozenset[str] = frozenset(), limit: int = 500
) -> list[dict]:
    """The caller's events with ``after < id <= upto``, oldest first, as stream messages."""
    qs = Event.objects.filter(scope.q(), id__gt=after, id__lte=upto)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return [event.as_message() for event in qs.order_by("id")[:limit]]
