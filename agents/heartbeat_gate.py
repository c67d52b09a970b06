"""The heartbeat's front door in one Redis round trip: who is it, may it, is its answer still good.

A fleet beats thousands of times a second, and on a loaded machine every Redis round trip costs as
much as a small query. So the heartbeat (and only the heartbeat: ``HeartbeatKeyAuthentication``
and ``HeartbeatThrottle`` are set on its view alone) authenticates from a per-process key cache and
asks Redis everything else at once, in one pipeline:

* the control counters of the installation, the agent's business and the agent
  (``mission_control.control_versions``), which the heartbeat's cached answer is checked against;
* the agent key's rate-limit counter (the same fixed window as ``governance.throttling``);
* the beat itself, into the presence buffer (``agents.presence``), when it is due there.

A cached key is trusted only while the agent's counter reads what it read when the key was last
checked in the database, read *before* that check: revoking a key (or deleting it, or its agent)
bumps the agent's counter, so the next beat with it asks the database and gets its 401. The rate
an agent may send at is cached the same way (a policy change bumps the business's counter).

A process that has not checked a key yet takes another process's check of it from Redis
(``agents.heartbeat_shared``) under the same rule: trusted while the agent's counter reads the same.

Without Redis (the embedded default) or while it is unreachable the view takes the ordinary path:
``agents.auth.AgentKeyAuthentication`` and ``governance.throttling.AgentKeyThrottle``.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from agents import heartbeat_shared, heartbeats, presence
from agents.auth import KEY_PREFIX, LAST_USED_RESOLUTION, AgentActor, AgentKeyAuthentication, KeyIdentity
from agents.models import AgentKey
from governance.auth import bearer_token
from governance.policies import agent_rate
from governance.throttling import AgentKeyThrottle, default_rate, parse_rate, window_wait
from mission_control import control_versions
from mission_control.logging import bind
from mission_control.redis_client import redis_client
from mission_control.redis_outage import CACHE, REDIS_ERRORS
from mission_control.secrets import hash_secret


@dataclass
class KeyEntry:
    identity: KeyIdentity
    rate: tuple[int, int] | None
    versions: tuple | None = None  # the counters read before the key was last checked


class KeyCache:
    """Per process, bounded like the answers (``MC_HEARTBEAT_CACHE_AGENTS``)."""

    def __init__(self):
        self._rows: OrderedDict[str, KeyEntry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> KeyEntry | None:
        with self._lock:
            entry = self._rows.get(key_hash)
            if entry is not None:
                self._rows.move_to_end(key_hash)
            return entry

    def put(self, key_hash: str, entry: KeyEntry) -> None:
        with self._lock:
            self._rows[key_hash] = entry
            self._rows.move_to_end(key_hash)
            while len(self._rows) > settings.MC_HEARTBEAT_CACHE_AGENTS:
                self._rows.popitem(last=False)

    def drop(self, key_hash: str) -> None:
        with self._lock:
            self._rows.pop(key_hash, None)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


keys = KeyCache()


def _check_key(key_hash: str) -> KeyEntry | None:
    """The key from the database (one query, plus the policy's rate on a cold cache), or None."""
    key = AgentKey.objects.active().select_related("agent").filter(key_hash=key_hash).first()
    if key is None:
        return None
    identity = KeyIdentity(key.pk, key.agent_id, key.agent.business_id)
    if key.last_used_at is None or timezone.now() - key.last_used_at > LAST_USED_RESOLUTION:
        AgentKey.objects.filter(pk=key.pk).update(
            last_used_at=timezone.now()
        )  # later uses: buffered (_ask_redis)
    rate = parse_rate(agent_rate(key.agent_id, identity.business_id) or default_rate("agent"))
    return KeyEntry(identity=identity, rate=rate)


def _shared_entry(client, key_hash: str) -> KeyEntry | None:
    """Another process's check of the key (``agents.heartbeat_shared``), or None."""
    copy = heartbeat_shared.key_copy(client, key_hash)
    if copy is None:
        return None
    rate = tuple(copy["rate"]) if copy["rate"] is not None else None
    return KeyEntry(identity=KeyIdentity(*copy["identity"]), rate=rate, versions=tuple(copy["versions"]))


def _scopes(identity: KeyIdentity) -> list[str]:
    return [
        control_versions.GLOBAL,
        control_versions.business_scope(identity.business_id),
        control_versions.agent_scope(identity.agent_id),
    ]


def _ask_redis(
    client, entry: KeyEntry, key_hash: str, note_beat: bool, now
) -> tuple[tuple | None, int | None]:
    """One pipeline: the three counters, the key's last use, the rate counter, the presence note.
    Returns (versions, count). The key's use goes to the presence buffer, whose flush writes
    ``last_used_at`` to the minute (a fleet's keys would otherwise be a burst of row writes every
    minute); the minute's mark tells the other agent paths (``agents.auth``) it is written."""
    names = [cache.make_key(f"ctlv:{scope}") for scope in _scopes(entry.identity)]
    pipe = client.pipeline(transaction=False)
    pipe.mget(names)
    seconds = int(LAST_USED_RESOLUTION.total_seconds())
    pipe.set(cache.make_key(f"agentkey:used:{key_hash}"), 1, nx=True, ex=seconds)
    pipe.hset(presence.KEYS_USED, entry.identity.pk, now.timestamp())
    window_key = None
    if entry.rate is not None:
        period = entry.rate[1]
        window = int(now.timestamp() // period)
        window_key = cache.make_key(f"throttle:agent:key:{entry.identity.pk}:{period}:{window}")
        pipe.incr(window_key)
        pipe.expire(window_key, period + 1)
    if note_beat:
        pipe.hset(presence.KEY, str(entry.identity.agent_id), now.timestamp())
    answers = pipe.execute()
    raw = answers[0]
    versions = None if any(v is None for v in raw) else tuple(int(v) for v in raw)
    count = int(answers[3]) if window_key else None
    return versions, count


# The WSGI front (``agents.api.heartbeat_front``) runs the gate before Django when it can; a beat it
# hands to Django after that carries the gate's verdict here, so nothing is counted twice. Only the
# server puts keys without an ``HTTP_`` prefix in the environ: a client cannot set this one.
HANDED_OVER = "mc.heartbeat_gate"


def check(raw: str) -> AgentActor | None:
    """The gate for an agent key (``mca_...``): the actor, with the counters and the rate count read
    in one Redis round trip; AuthenticationFailed for an unknown or revoked key; None while Redis
    cannot be used (no Redis, an outage, a counter bump owed), when the ordinary path decides."""
    client = redis_client()
    if client is None or CACHE.down() or not control_versions.settled():
        return None
    key_hash = hash_secret(raw)
    entry = keys.get(key_hash)
    if entry is None:
        # Another process's check, trusted below under the same rule as this process's own.
        entry = _shared_entry(client, key_hash) or _check_key(key_hash)
        if entry is None:
            raise AuthenticationFailed("Invalid or revoked credentials.")
        keys.put(key_hash, entry)  # trusted from the next beat on, once checked after a read
    now = timezone.now()
    note_beat = heartbeats.presence_note_due(entry.identity.agent_id, now)
    try:
        versions, count = _ask_redis(client, entry, key_hash, note_beat, now)
    except REDIS_ERRORS as exc:
        CACHE.note("heartbeats", exc)
        return None
    CACHE.recovered()
    if versions is None:  # a counter missing (Redis restarted empty): start them
        versions = control_versions.read(*_scopes(entry.identity))
    if versions is None or entry.versions is None or entry.versions[2] != versions[2]:
        # The agent changed, or this process never checked the key after reading its counter.
        fresh = _check_key(key_hash)
        if fresh is None:
            keys.drop(key_hash)
            heartbeat_shared.forget_key(client, key_hash)
            raise AuthenticationFailed("Invalid or revoked credentials.")
        entry = KeyEntry(identity=fresh.identity, rate=fresh.rate, versions=versions)
        keys.put(key_hash, entry)
        if versions is not None:  # else nothing to trust it under: checked again next beat
            identity = [entry.identity.pk, entry.identity.agent_id, entry.identity.business_id]
            rate = list(entry.rate) if entry.rate is not None else None
            heartbeat_shared.share_key(client, key_hash, identity=identity, rate=rate, versions=versions)
    elif entry.versions[1] != versions[1]:
        # The business changed (a policy may set another rate): ask for the rate again.
        rate = agent_rate(entry.identity.agent_id, entry.identity.business_id) or default_rate("agent")
        entry.rate, entry.versions = parse_rate(rate), versions
    if note_beat:
        heartbeats.presence_noted(entry.identity.agent_id, now)
    actor = AgentActor(entry.identity)
    actor.heartbeat_versions = versions
    actor.rate_count = (count, entry.rate) if count is not None else None
    bind(business=actor.business_id, agent=actor.agent_id)
    return actor


def throttled_for(actor: AgentActor) -> float | None:
    """Seconds to wait when the gate's count is over the key's limit, else None."""
    counted = getattr(actor, "rate_count", None)
    if counted is None:
        return None
    count, (limit, period) = counted
    return window_wait(period) if count > limit else None


class HeartbeatKeyAuthentication(AgentKeyAuthentication):
    """Agent keys for the heartbeat, with the rate counter and control counters read alongside."""

    def authenticate(self, request):
        handed = request.META.pop(HANDED_OVER, None)
        if isinstance(handed, AuthenticationFailed):
            raise handed
        if handed is not None:
            return handed, handed.key
        raw = bearer_token(request)
        if raw is None or not raw.startswith(KEY_PREFIX):
            return None
        actor = check(raw)
        if actor is None:
            return super().authenticate(request)
        return actor, actor.key


class HeartbeatThrottle(AgentKeyThrottle):
    """The agent key's limit, counted by the gate's pipeline when it ran (else as everywhere)."""

    def allow_request(self, request, view) -> bool:
        if getattr(request.user, "rate_count", None) is None:
            return super().allow_request(request, view)
        self._wait = throttled_for(request.user)
        return self._wait is None


def reset() -> None:
    """Forget every cached key (tests)."""
    keys.clear()
