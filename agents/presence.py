"""Presence in Redis, written to PostgreSQL in batches.

A fleet of 10,000 agents beating every 15 s would rewrite 667 agent rows a second just to say "still
here". With Redis, a beat that reports nothing new only records its time in one Redis hash; the
worker writes the whole hash to ``last_heartbeat`` / ``offline_after`` in one statement every
``FLUSH_S`` seconds, and the offline sweep flushes first, so it judges silence on the same truth
the heartbeats wrote. ``last_heartbeat`` in the database then lags a beat by at most ``FLUSH_S``
plus the write interval of ``agents.heartbeats``, which is why only agents whose timeout is at least
``MIN_TIMEOUT_FACTOR`` times that lag are buffered; the others, and every beat while Redis is
unreachable or absent (the embedded default) or while no flush has run lately (no worker or beat:
nothing would write them), are written at once as before, and so is an agent's first beat and its
first after going offline.
"""

import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q

from agents.auth import LAST_USED_RESOLUTION
from agents.models import Agent, AgentKey
from mission_control.conflicts import retrying
from mission_control.redis_client import redis_client
from mission_control.redis_outage import CACHE

logger = logging.getLogger(__name__)

KEY = "mc:presence"
KEYS_USED = "mc:presence:keys"  # agent key id -> when the heartbeat gate last saw it
FLUSHED_KEY = "mc:presence:flushed_at"
FLUSH_S = 5
# A flush is late after two of its periods; then beats are written at once until one runs again.
FLUSH_LATE_S = 2 * FLUSH_S + 1
MIN_TIMEOUT_FACTOR = 5
MIN_BUFFERED_TIMEOUT_S = 2 * FLUSH_S * MIN_TIMEOUT_FACTOR


class _FlushClock:
    """When the last flush ran, read from Redis at most once a second per process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._flushed_at = 0.0

    def recent(self, client) -> bool:
        now = time.monotonic()
        if now - self._checked > 1.0:
            with self._lock:
                if now - self._checked > 1.0:
                    self._checked = now
                    value = CACHE.or_default("presence", lambda: client.get(FLUSHED_KEY), None)
                    self._flushed_at = float(value) if value else 0.0
        return time.time() - self._flushed_at < FLUSH_LATE_S

    def reset(self) -> None:
        self._checked = float("-inf")


flush_clock = _FlushClock()


def buffered(heartbeat_timeout_s: int) -> bool:
    """May this agent's beats wait in Redis for the next flush?"""
    if heartbeat_timeout_s < MIN_BUFFERED_TIMEOUT_S or CACHE.down():
        return False
    client = redis_client()
    return client is not None and flush_clock.recent(client)


def note(agent_id: int, at: datetime) -> bool:
    """Record a beat in Redis; False when it could not be (write it to the database instead)."""
    client = redis_client()
    if client is None:
        return False
    return CACHE.or_default(
        "presence", lambda: client.hset(KEY, str(agent_id), at.timestamp()) is not None, False
    )


def flush() -> int:
    """Write every buffered beat (and key use) to the database; returns how many agents moved on."""
    client = redis_client()
    if client is None or CACHE.down():
        return 0
    key_uses = _take(client, KEYS_USED)
    if key_uses:
        write_key_uses({int(k): datetime.fromtimestamp(float(v), UTC) for k, v in key_uses.items()})
    raw = _take(client, KEY)
    CACHE.or_default("presence", lambda: client.set(FLUSHED_KEY, time.time()), None)
    if not raw:
        return 0
    beats = {int(k): datetime.fromtimestamp(float(v), UTC) for k, v in raw.items()}
    try:
        return write_beats(beats)
    except Exception:
        # Put them back (a newer beat already there wins) so the next flush writes them.
        CACHE.or_default("presence", lambda: [client.hsetnx(KEY, k, v) for k, v in raw.items()], None)
        raise


def _take(client, key: str) -> dict:
    """Everything in the hash ``key``, which starts again empty (RENAME is atomic)."""
    taken = f"{key}:flushing:{uuid.uuid4().hex}"

    def take() -> dict:
        if not client.exists(key):
            return {}
        client.rename(key, taken)
        values = client.hgetall(taken)
        client.delete(taken)
        return values

    return CACHE.or_default("presence", take, {})


def write_key_uses(uses: dict[int, datetime]) -> int:
    """``last_used_at`` of the agent keys the heartbeat gate saw, to the minute: a key's row is
    written when the use is a minute newer than what it holds. One statement on PostgreSQL (a flush
    holds every key that beat in the last ``FLUSH_S``); returns how many rows moved on."""
    if not uses:
        return 0
    ids = sorted(uses)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "WITH v AS (SELECT unnest(%s::bigint[]) AS id, unnest(%s::timestamptz[]) AS ts)"
                    " UPDATE agents_agentkey k SET last_used_at = v.ts FROM v WHERE k.id = v.id"
                    " AND (k.last_used_at IS NULL OR k.last_used_at <= v.ts - %s)",
                    [ids, [uses[pk] for pk in ids], LAST_USED_RESOLUTION],
                )
                return cursor.rowcount
        moved = 0
        for key_id in ids:
            at = uses[key_id]
            moved += (
                AgentKey.objects.filter(pk=key_id)
                .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=at - LAST_USED_RESOLUTION))
                .update(last_used_at=at)
            )
        return moved


@retrying
def write_beats(beats: dict[int, datetime]) -> int:
    """``last_heartbeat = beat`` and ``offline_after = beat + timeout`` where the beat is newer."""
    if not beats:
        return 0
    ids = sorted(beats)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Rows locked in id order, like every multi-agent writer, so flushes never deadlock.
                cursor.execute(
                    "WITH v AS (SELECT unnest(%s::bigint[]) AS id, unnest(%s::timestamptz[]) AS ts),"
                    " locked AS (SELECT a.id FROM agents_agent a JOIN v ON v.id = a.id"
                    " ORDER BY a.id FOR NO KEY UPDATE OF a)"
                    " UPDATE agents_agent a SET last_heartbeat = v.ts,"
                    " offline_after = v.ts + make_interval(secs => a.heartbeat_timeout_s)"
                    " FROM v, locked WHERE a.id = v.id AND locked.id = v.id"
                    " AND (a.last_heartbeat IS NULL OR a.last_heartbeat < v.ts)",
                    [ids, [beats[pk] for pk in ids]],
                )
                return cursor.rowcount
        moved = 0
        for agent in Agent.objects.filter(pk__in=ids).only("pk", "last_heartbeat", "heartbeat_timeout_s"):
            beat = beats[agent.pk]
            if agent.last_heartbeat is None or agent.last_heartbeat < beat:
                moved += Agent.objects.filter(pk=agent.pk).update(
                    last_heartbeat=beat, offline_after=beat + timedelta(seconds=agent.heartbeat_timeout_s)
                )
        return moved
