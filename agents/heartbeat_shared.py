"""Copies in Redis of what a process learnt about an agent for its heartbeats, for the other processes.

Each web or ``agents`` worker process keeps its own key cache (``agents.heartbeat_gate``) and answer
cache (``agents.heartbeats``), and an agent's beats land on whichever process its load balancer picks.
Without a shared copy, every process loads every agent itself: the key checked twice in the
database, then the agent, its commands and its flags (about 5 ms of CPU each time, once per agent
per process and again every ``MC_HEARTBEAT_ANSWER_MAX_AGE_S``), which at 10,000 agents on two
workers cost about as much as all the warm beats together (docs/scaling.md).

A copy carries the control counters (``mission_control.control_versions``) its process read *before*
it read the database, and is trusted under exactly the rule its own process trusts it by: only
while the counters read the same. A change (a revoked key, a stop, a command, a budget) bumps a
counter, so a copy made before it is never taken after it, in any process. Copies also expire
with the answer's maximum age. Without Redis, or while it fails, nothing is shared: each process
loads for itself, as before.
"""

import json
import time

from django.conf import settings
from django.core.cache import cache

from mission_control.redis_outage import CACHE

KEY_COPY_S = 3600  # a key entry nobody uses for an hour is let go; a change invalidates it sooner


def _key_name(key_hash: str) -> str:
    return cache.make_key(f"hbshare:key:{key_hash}")


def _answer_name(agent_id: int) -> str:
    return cache.make_key(f"hbshare:answer:{agent_id}")


def _get(client, name: str) -> dict | None:
    raw = CACHE.or_default("heartbeats", lambda: client.get(name), None)
    return json.loads(raw) if raw else None


def _set(client, name: str, value: dict, seconds: float) -> None:
    if seconds > 0:
        CACHE.or_default(
            "heartbeats", lambda: client.set(name, json.dumps(value), ex=max(1, int(seconds))), None
        )


def key_copy(client, key_hash: str) -> dict | None:
    """Another process's check of this key: ``identity`` (key, agent, business ids), ``rate`` and
    ``versions`` (the counters it read before the check), or None. The caller still compares the
    counters before trusting it."""
    return _get(client, _key_name(key_hash))


def share_key(client, key_hash: str, *, identity: list, rate: list | None, versions: tuple) -> None:
    """Offer a key checked in the database after its counters were read to the other processes."""
    copy = {"identity": identity, "rate": rate, "versions": list(versions)}
    _set(client, _key_name(key_hash), copy, KEY_COPY_S)


def forget_key(client, key_hash: str) -> None:
    CACHE.or_default("heartbeats", lambda: client.delete(_key_name(key_hash)), None)


def answer_copy(client, agent_id: int, versions: tuple | None) -> tuple[dict, float] | None:
    """Another process's answer state for the agent (the fields of ``agents.heartbeats.AgentState``
    that travel, times as ISO text) and the seconds it has left, if it was loaded under these very
    counters and is not older than the maximum age; else None."""
    if client is None or versions is None:
        return None
    copy = _get(client, _answer_name(agent_id))
    if copy is None or tuple(copy.pop("versions")) != tuple(versions):
        return None
    left = copy.pop("expires_at") - time.time()
    return (copy, left) if left > 0 else None


def share_answer(client, fields: dict, *, versions: tuple | None, left: float) -> None:
    """Offer an answer state just loaded from the database to the other processes for ``left`` s."""
    if client is None or versions is None:
        return
    left = min(left, settings.MC_HEARTBEAT_ANSWER_MAX_AGE_S)
    copy = {**fields, "versions": list(versions), "expires_at": time.time() + left}
    _set(client, _answer_name(fields["pk"]), copy, left)
