"""Agent keys: ``Authorization: Bearer mca_...``, answered from the cache on the hot paths.

A fleet authenticates thousands of times a second with keys that almost never change, so a key's
identity (key id, agent id, business id) is cached under its hash and the database is asked only on a
miss. Revoking must still work at once: the revocation (or a deleted key) overwrites the cached entry
with a *tombstone* inside its transaction, and entries are only ever added (``cache.add``), never
overwritten, so a request that read the key from the database before the revocation committed cannot
put it back. A tombstone sends the request to the database (which then says 401). While the cache is
down every request asks the database, as before.
"""

import threading
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from agents.models import Agent, AgentKey
from governance.auth import bearer_token
from mission_control.logging import bind
from mission_control.redis_outage import CACHE
from mission_control.secrets import hash_secret
from mission_control.ws_security import Principal, agent_group

KEY_PREFIX = "mca_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
# An entry lives this long without use; a tombstone outlives any entry added before it.
KEY_CACHE_S = 600
TOMBSTONE = "revoked"


@dataclass(frozen=True)
class KeyIdentity:
    """``request.auth`` for an agent key: who it is, without the row."""

    pk: int
    agent_id: int
    business_id: int


class AgentActor:
    """``request.user`` for a request made with an agent key. The agent row is loaded on first use
    (``actor.agent``): the heartbeat never needs it, other agent endpoints pay one query."""

    is_agent = True
    is_authenticated = True
    is_anonymous = False
    is_superuser = False
    is_staff = False
    is_active = True

    def __init__(self, key: KeyIdentity, agent: Agent | None = None):
        self.key = key
        self.agent_id = key.agent_id
        self.business_id = key.business_id
        self.pk = None
        self._agent = agent

    @property
    def agent(self) -> Agent:
        if self._agent is None:
            self._agent = Agent.objects.select_related("business").get(pk=self.agent_id)
        return self._agent

    def get_username(self) -> str:
        return f"agent:{self.agent_id}"

    def __str__(self) -> str:
        return self.get_username()


class AgentKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer mca_...``. A wrong or revoked key is one and the same 401."""

    def authenticate(self, request):
        raw = bearer_token(request)
        if raw is None or not raw.startswith(KEY_PREFIX):
            return None
        actor = authenticate_key(raw)
        if actor is None:
            raise AuthenticationFailed("Invalid or revoked credentials.")
        bind(business=actor.business_id, agent=actor.agent_id)
        return actor, actor.key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


def _entry_key(key_hash: str) -> str:
    return f"agentkey:{key_hash}"


def _used_key(key_hash: str) -> str:
    return f"agentkey:used:{key_hash}"


# Tombstones a cache outage kept from being written, written by this process before it next reads.
_owed: set[str] = set()
_owed_lock = threading.Lock()


def authenticate_key(raw: str) -> AgentActor | None:
    """The agent actor of an active key, or None (unknown or revoked)."""
    key_hash = hash_secret(raw)
    entry_key, used_key = _entry_key(key_hash), _used_key(key_hash)
    found = CACHE.or_default("agent keys", lambda: _read(entry_key, used_key), None) or {}
    cached = found.get(entry_key)
    if isinstance(cached, tuple):
        identity = KeyIdentity(*cached)
        if used_key not in found:
            _note_use(identity.pk, used_key)
        return AgentActor(identity)
    key = (
        AgentKey.objects.active().select_related("agent", "agent__business").filter(key_hash=key_hash).first()
    )
    if key is None:
        return None
    identity = KeyIdentity(key.pk, key.agent_id, key.agent.business_id)
    if cached is None and not _owed:  # never over a tombstone: a revocation may be committing now
        entry = (identity.pk, identity.agent_id, identity.business_id)
        CACHE.or_default("agent keys", lambda: cache.add(entry_key, entry, KEY_CACHE_S), None)
    if key.last_used_at is None or timezone.now() - key.last_used_at > LAST_USED_RESOLUTION:
        _note_use(key.pk, used_key)
    return AgentActor(identity, key.agent)


def _read(entry_key: str, used_key: str) -> dict | None:
    if _owed:
        with _owed_lock:
            owed = list(_owed)
            _owed.clear()
        for key_hash in owed:
            _bury(key_hash)
    if _owed:  # still unpaid: the cache cannot be trusted yet
        return None
    return cache.get_many([entry_key, used_key])


def _note_use(key_id: int, used_key: str) -> None:
    """Record ``last_used_at`` to the minute: one write per key per minute, whichever process."""
    seconds = int(LAST_USED_RESOLUTION.total_seconds())
    if CACHE.or_default("agent keys", lambda: cache.add(used_key, 1, seconds), True):
        AgentKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())


def _bury(key_hash: str) -> None:
    def write() -> bool:
        cache.set(_entry_key(key_hash), TOMBSTONE, 2 * KEY_CACHE_S)
        return True

    if not CACHE.or_default("agent keys", write, False):
        with _owed_lock:
            _owed.add(key_hash)


def forget_key(key_hash: str) -> None:
    """Make the cache send the next request with this key to the database (revoked or deleted).

    Called inside the revoking transaction: a tombstone, not a delete, so that no request can
    cache the key again until the revocation is long committed. While the cache is down the
    tombstone is owed and written before this process reads the cache again."""
    _bury(key_hash)


def ws_principal(raw: str) -> Principal | None:
    """The agent behind an agent key on a WebSocket (``?token=mca_...``), or None. The socket joins
    the agent's access group, so revoking the key closes it."""
    if not raw.startswith(KEY_PREFIX):
        return None
    actor = authenticate_key(raw)
    return Principal(user=actor, groups=[agent_group(actor.agent_id)]) if actor else None
