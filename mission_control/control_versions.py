"""Version counters for what a heartbeat answer says, so a heartbeat asks the cache, not the database.

A heartbeat answer depends on three scopes: the agent (desired state, scale, pending commands), its
business (its emergency stop, its budgets) and the whole installation (the global emergency stop).
Each scope has a counter in the cache (Redis in production) that every change to that scope bumps.
A web process keeps the last answer it computed per agent with the counters it saw *before* reading
the database; while the counters still read the same, nothing changed and the answer stands.

Ordering is what makes "the very next heartbeat" true: a change bumps its counter inside its
transaction (so a failing cache fails the change, nothing half-done) and again after commit; a
heartbeat reads the counters first, then the database. A heartbeat that read the counters between
the two bumps may cache the old answer, but only under a version the after-commit bump has already
replaced by the time the operator gets the change's answer.

While Redis is unreachable nothing is cached (``read`` answers None, heartbeats ask the database)
and a change still goes through: the bump it could not make is owed, and paid by this process the
next time it reaches the cache (before it reads any counter), so a Redis that comes back with its
old data cannot bring stale answers back with it. Cached answers also age out after
``MC_HEARTBEAT_ANSWER_MAX_AGE_S`` whatever the counters say, a backstop should a process die still
owing a bump (a change made while Redis was unreachable, by a process that ended before it could
reach Redis again): that window is how long such a change may go unseen.

A counter that is missing (a Redis restarted empty, an evicted key) starts again from a random
value, never from 1, so it cannot come back to a number some process cached an answer under.
"""

import random
import threading

from django.core.cache import cache
from django.db import transaction

from mission_control.redis_outage import CACHE

GLOBAL = "global"

_owed: set[str] = set()
_owed_lock = threading.Lock()


def _key(scope: str) -> str:
    return f"ctlv:{scope}"


def agent_scope(agent_id: int) -> str:
    return f"a:{agent_id}"


def business_scope(business_id: int) -> str:
    return f"b:{business_id}"


def _incr(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:  # missing: start from a random value (see the module's note)
        if not cache.add(key, random.getrandbits(62), timeout=None):
            cache.incr(key)


def _bump_now(keys: list[str]) -> None:
    def bump_all() -> bool:
        for key in keys:
            _incr(key)
        return True

    if not CACHE.or_default("control versions", bump_all, False):
        with _owed_lock:
            _owed.update(keys)


def pay_owed() -> None:
    """Make the bumps a cache outage prevented, once the cache answers again."""
    if not _owed or CACHE.down():
        return
    with _owed_lock:
        keys = list(_owed)
        _owed.clear()
    _bump_now(keys)


def settled() -> bool:
    """No bump is owed by this process (paying what it owes if the cache answers again): only then
    may it trust counters it reads by other means (the heartbeat gate's pipeline)."""
    pay_owed()
    return not _owed


def bump(*scopes: str) -> None:
    """Say that what a heartbeat answers changed in ``scopes``: now, and again after commit.

    Called inside the change's transaction; never fails it (see the module's note on outages)."""
    if not scopes:
        return
    keys = [_key(scope) for scope in scopes]
    _bump_now(keys)
    transaction.on_commit(lambda: _bump_now(keys))


def read(*scopes: str) -> tuple | None:
    """The current counters of ``scopes``, or None when the cache cannot say (ask the database)."""
    if CACHE.down():
        return None
    pay_owed()
    if _owed:
        return None
    keys = [_key(scope) for scope in scopes]

    def get() -> tuple | None:
        found = cache.get_many(keys)
        missing = [key for key in keys if key not in found]
        for key in missing:
            cache.add(key, random.getrandbits(62), timeout=None)
        if missing:
            found = cache.get_many(keys)
        if len(found) != len(keys):
            return None
        return tuple(found[key] for key in keys)

    return CACHE.or_default("control versions", get, None)
