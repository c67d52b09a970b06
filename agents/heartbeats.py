"""Heartbeats and presence: the hottest endpoint and the sweep that notices silence.

In steady state a heartbeat costs no database query: the key comes from the key cache
(``agents.auth``), the answer (desired state, scale, pending commands, the governance flags) from
this process's cached answer for the agent, still good while the control counters of the agent, its
business and the installation read the same (``mission_control.control_versions``; every change to
any of them bumps its counter), and presence goes to Redis, written to the database in batches
(``agents.presence``). A beat that reports something new (status, version, location,
capabilities, running executions) is written at once, and a cache miss reads the agent, its
commands and the flags in four queries, as every beat did before. ``agent.online`` /
``agent.offline`` are published exactly once per transition because each is guarded by a
conditional UPDATE on ``offline_since``.
"""

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents import heartbeat_shared, presence
from agents.models import Agent, AgentCommand
from governance.controls import agent_flags, business_flags
from mission_control import control_versions
from mission_control.events import publish
from mission_control.redis_client import redis_client

logger = logging.getLogger(__name__)

# Rewriting last_heartbeat on every beat turns a fleet's heartbeats (every replica of a scaled
# agent beats on the same row) into a stream of row writes, WAL and lock waits. Presence only
# needs last_heartbeat to within a fraction of the timeout, so an unchanged beat is written at
# most this often; anything the agent reports differently is written at once.
HEARTBEAT_WRITE_INTERVAL = timedelta(seconds=5)
# A bounded answer keeps the heartbeat's cost fixed even if an agent never acknowledges.
MAX_COMMANDS_PER_BEAT = 50
# The sweep handles at most this many transitions per run; the next run takes the rest.
SWEEP_BATCH = 500
# An exhausted budget is asked again this often: a new window (midnight) ends the exhaustion
# without any write that could bump a counter.
EXHAUSTED_RECHECK_S = 60.0
REPORTED = ("status", "version", "runtime_location", "capabilities", "running_executions")


def write_interval(agent) -> timedelta:
    # Never so coarse that a skipped write could make a beating agent look offline.
    return min(HEARTBEAT_WRITE_INTERVAL, timedelta(seconds=agent.heartbeat_timeout_s / 5))


def suggested_interval_s(agent) -> int:
    """How often the agent should beat: three beats per timeout tolerates two lost ones."""
    return max(1, agent.heartbeat_timeout_s // 3)


@dataclass
class AgentState:
    """What a heartbeat needs of an agent, as of ``versions`` (see ``control_versions``)."""

    pk: int
    business_id: int
    heartbeat_timeout_s: int
    last_heartbeat: object
    offline_since: object
    answer: dict
    reported: dict
    versions: tuple | None = None
    expires: float = 0.0
    noted_at: object = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def expected_by(self, beat):
        return beat + timedelta(seconds=self.heartbeat_timeout_s)


class AnswerCache:
    """Per process, bounded (``MC_HEARTBEAT_CACHE_AGENTS``, least recently used out)."""

    def __init__(self):
        self._rows: OrderedDict[int, AgentState] = OrderedDict()
        self._lock = threading.Lock()

    def peek(self, agent_id: int) -> AgentState | None:
        with self._lock:
            return self._rows.get(agent_id)

    def get(self, agent_id: int, versions: tuple | None) -> AgentState | None:
        if versions is None:
            return None
        with self._lock:
            state = self._rows.get(agent_id)
            if state is None or state.versions != versions or state.expires < time.monotonic():
                return None
            self._rows.move_to_end(agent_id)
            return state

    def put(self, state: AgentState) -> None:
        if state.versions is None:
            return
        with self._lock:
            self._rows[state.pk] = state
            self._rows.move_to_end(state.pk)
            while len(self._rows) > settings.MC_HEARTBEAT_CACHE_AGENTS:
                self._rows.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


answers = AnswerCache()


class BusinessFlagCache:
    """Per process, the governance flags of each business (``governance.controls.business_flags``)
    under the installation's and the business's counters: a fleet's answers are loaded agent by
    agent (a cold process, an answer aged out), and their flags are the same for every agent of a
    business, so two queries per business instead of two per agent. Bounded like the answers."""

    def __init__(self):
        self._rows: OrderedDict[int, tuple[tuple, float, tuple]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, business_id: int, versions: tuple | None) -> tuple:
        if versions is None:
            return business_flags(business_id)
        scope = versions[:2]  # (installation, business); the agent's own counter plays no part
        with self._lock:
            row = self._rows.get(business_id)
            if row is not None and row[0] == scope and row[1] >= time.monotonic():
                self._rows.move_to_end(business_id)
                return row[2]
        flags = business_flags(business_id)  # read after the counters, as the answers are
        max_age = settings.MC_HEARTBEAT_ANSWER_MAX_AGE_S
        if flags[1]:  # something exhausted: a new window ends it without a bump
            max_age = min(max_age, EXHAUSTED_RECHECK_S)
        with self._lock:
            self._rows[business_id] = (scope, time.monotonic() + max_age, flags)
            self._rows.move_to_end(business_id)
            while len(self._rows) > settings.MC_HEARTBEAT_CACHE_AGENTS:
                self._rows.popitem(last=False)
        return flags

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


flag_cache = BusinessFlagCache()


def _load_state(agent_id: int, business_id: int, versions: tuple | None, now) -> AgentState:
    agent = Agent.objects.get(pk=agent_id)
    commands = list(AgentCommand.objects.pending().filter(agent_id=agent_id)[:MAX_COMMANDS_PER_BEAT])
    undelivered = [c.pk for c in commands if c.delivered_at is None]
    if undelivered:
        AgentCommand.objects.filter(pk__in=undelivered, delivered_at__isnull=True).update(delivered_at=now)
    flags = agent_flags(flag_cache.get(business_id, versions), agent_id)
    max_age = settings.MC_HEARTBEAT_ANSWER_MAX_AGE_S
    if flags.get("budget_exhausted"):
        max_age = min(max_age, EXHAUSTED_RECHECK_S)
    return AgentState(
        pk=agent.pk,
        business_id=agent.business_id,
        heartbeat_timeout_s=agent.heartbeat_timeout_s,
        last_heartbeat=agent.last_heartbeat,
        offline_since=agent.offline_since,
        reported={name: getattr(agent, name) for name in REPORTED},
        answer={
            "desired_state": agent.desired_state,
            "scale": agent.scale,
            "commands": [c.as_message() for c in commands],
            "emergency_stop": bool(flags.get("emergency_stop")),
            "budget_exhausted": bool(flags.get("budget_exhausted")),
            "heartbeat_interval_s": suggested_interval_s(agent),
        },
        versions=versions,
        expires=time.monotonic() + max_age,
    )


_SHARED = ("pk", "business_id", "heartbeat_timeout_s", "answer", "reported")


def _shared_state(client, agent_id: int, versions: tuple | None) -> AgentState | None:
    found = heartbeat_shared.answer_copy(client, agent_id, versions)
    if found is None:
        return None
    fields, left = found
    return AgentState(
        **{name: fields[name] for name in _SHARED},
        last_heartbeat=_parsed(fields["last_heartbeat"]),
        offline_since=_parsed(fields["offline_since"]),
        versions=versions,
        expires=time.monotonic() + left,
    )


def _share_state(client, state: AgentState) -> None:
    fields = {name: getattr(state, name) for name in _SHARED}
    fields["last_heartbeat"] = state.last_heartbeat.isoformat() if state.last_heartbeat else None
    fields["offline_since"] = state.offline_since.isoformat() if state.offline_since else None
    left = state.expires - time.monotonic()
    heartbeat_shared.share_answer(client, fields, versions=state.versions, left=left)


def _parsed(value: str | None):
    return datetime.fromisoformat(value) if value else None


def record_heartbeat(
    *,
    status: str,
    agent: Agent | None = None,
    agent_id: int | None = None,
    business_id: int | None = None,
    version: str | None = None,
    runtime_location: str | None = None,
    capabilities: list[str] | None = None,
    running: list[int] | None = None,
    now=None,
    versions: tuple | None = None,
) -> dict:
    """Record what the agent reports and answer what it should do. Fields left out (None) keep
    their stored value. The agent is ``agent`` or its ids (the key cache gives only those)."""
    if agent is not None:
        agent_id, business_id = agent.pk, agent.business_id
    now = now or timezone.now()
    # The counters first, then the database: a change committed after this read bumps them again.
    # (The heartbeat's gate read them already, before anything else of this request.)
    if versions is None:
        versions = control_versions.read(
            control_versions.GLOBAL,
            control_versions.business_scope(business_id),
            control_versions.agent_scope(agent_id),
        )
    state = answers.get(agent_id, versions)
    if state is None:
        client = redis_client() if versions is not None else None
        state = _shared_state(client, agent_id, versions)  # another process's load
        if state is None:
            state = _load_state(agent_id, business_id, versions, now)
            _share_state(client, state)
        answers.put(state)
    reported = {
        "status": status,
        "version": version,
        "runtime_location": runtime_location,
        "capabilities": capabilities,
        "running_executions": running,
    }
    with state.lock:
        changes = {
            name: value
            for name, value in reported.items()
            if value is not None and state.reported[name] != value
        }
        stale = state.last_heartbeat is None or now - state.last_heartbeat >= write_interval(state)
        # Coming online (a first beat, a return) is written at once: everyone sees it now.
        arriving = state.last_heartbeat is None or state.offline_since is not None
        if changes or (
            stale and (arriving or not (presence.buffered(state.heartbeat_timeout_s) and _noted(state, now)))
        ):
            changes["last_heartbeat"] = now
            changes["offline_after"] = state.expected_by(now)
            Agent.objects.filter(pk=agent_id).update(**changes)
            state.reported.update({k: v for k, v in changes.items() if k in state.reported})
            state.last_heartbeat = now
        offline_since = state.offline_since
    if offline_since is not None:
        agent = Agent.objects.select_related("business").get(pk=agent_id)
        mark_online(agent=agent, now=now)
        state.offline_since = None
    return {**state.answer, "server_time": now.isoformat()}


def presence_note_due(agent_id: int, now) -> bool:
    """Should this beat go to the presence buffer? (The gate writes it in its Redis round trip.)"""
    state = answers.peek(agent_id)
    if state is None or state.last_heartbeat is None or state.offline_since is not None:
        return False  # not known here yet, or arriving: written to the row at once
    if state.noted_at is not None and now - state.noted_at < write_interval(state):
        return False
    return presence.buffered(state.heartbeat_timeout_s)


def presence_noted(agent_id: int, now) -> None:
    state = answers.peek(agent_id)
    if state is not None:
        state.noted_at = now


def _noted(state: AgentState, now) -> bool:
    """Record the beat in the presence buffer (Redis) at most once per write interval."""
    if state.noted_at is not None and now - state.noted_at < write_interval(state):
        return True
    if presence.note(state.pk, now):
        state.noted_at = now
        return True
    return False


def mark_online(*, agent: Agent, now=None) -> bool:
    """Clear ``offline_since`` and publish ``agent.online``, once, whoever gets there first."""
    now = now or timezone.now()
    with transaction.atomic():
        flipped = Agent.objects.filter(pk=agent.pk, offline_since__isnull=False).update(offline_since=None)
        if not flipped:
            return False
        control_versions.bump(control_versions.agent_scope(agent.pk))
        was_offline_since = agent.offline_since
        agent.offline_since = None
        seen_before = was_offline_since is not None and agent.created_at < was_offline_since
        away = int((now - was_offline_since).total_seconds()) if was_offline_since else None
        publish(
            kind="agent.online",
            business=agent.business,
            agent_id=agent.pk,
            actor="system",
            message=f"{agent.name} is back online" if seen_before else f"{agent.name} came online",
            data={
                "offline_for_s": away,
                "version": agent.version,
                "runtime_location": agent.runtime_location,
            },
        )
    return True


def mark_offline(*, agent: Agent, now=None) -> bool:
    """Set ``offline_since`` and publish ``agent.offline`` if the agent is still silent, once."""
    now = now or timezone.now()
    with transaction.atomic():
        flipped = (
            Agent.objects.offline(now)
            .filter(pk=agent.pk, offline_since__isnull=True)
            .update(offline_since=now)
        )
        if not flipped:
            return False
        control_versions.bump(control_versions.agent_scope(agent.pk))
        agent.offline_since = now
        publish(
            kind="agent.offline",
            business=agent.business,
            agent_id=agent.pk,
            actor="system",
            message=f"{agent.name} went offline (no heartbeat for {agent.heartbeat_timeout_s} s)",
            data={
                "last_heartbeat": agent.last_heartbeat.isoformat() if agent.last_heartbeat else None,
                "desired_state": agent.desired_state,
            },
        )
    return True


def sweep_presence(*, now=None) -> dict:
    """Find agents that fell silent (publish ``agent.offline``) and any whose return a heartbeat
    did not already announce (publish ``agent.online``). Safe to run on several workers at once."""
    now = now or timezone.now()
    presence.flush()  # judge silence on every beat received so far, buffered ones included
    silent = (
        Agent.objects.offline(now)
        .filter(offline_since__isnull=True, last_heartbeat__isnull=False)
        .select_related("business")
        .order_by("last_heartbeat")[:SWEEP_BATCH]
    )
    went_offline = sum(mark_offline(agent=agent, now=now) for agent in silent)
    # A heartbeat that raced the sweep can leave a beating agent marked offline; set it right.
    back = (
        Agent.objects.online(now).filter(offline_since__isnull=False).select_related("business")[:SWEEP_BATCH]
    )
    came_back = sum(mark_online(agent=agent, now=now) for agent in back)
    if went_offline or came_back:
        logger.info("presence sweep: %s offline, %s back online", went_offline, came_back)
    return {"offline": went_offline, "online": came_back}
