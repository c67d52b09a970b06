"""The heartbeat answers from caches (key, answer, presence) and still says every change on the
agent's very next beat. Each test warms the caches with a first beat before the change."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents import presence
from agents.heartbeats import record_heartbeat, sweep_presence
from agents.models import Agent, AgentKey
from agents.services import queue_command, revoke_key
from governance import budgets
from governance.services import create_budget
from governance.stops import engage_emergency_stop
from tests.agents.conftest import beat

pytestmark = pytest.mark.django_db


def test_it_answers_a_steady_beat_without_a_query(agent_api):
    beat(agent_api, status="active")
    beat(agent_api, status="active")
    with CaptureQueriesContext(connection) as queries:
        assert beat(agent_api, status="active").status_code == 200
    assert len(queries) == 0


def test_it_refuses_a_revoked_key_on_the_next_beat(agent_api, agent):
    beat(agent_api)
    revoke_key(key=agent.keys.get())
    assert beat(agent_api).status_code == 401


def test_it_refuses_a_deleted_agents_key_on_the_next_beat(agent_api, agent):
    beat(agent_api)
    agent.keys.all().delete()
    assert beat(agent_api).status_code == 401


def test_it_answers_an_emergency_stop_on_the_next_beat(agent_api, business, make_member):
    assert beat(agent_api).json()["emergency_stop"] is False
    engage_emergency_stop(business=business, reason="drill", actor=make_member())
    answer = beat(agent_api).json()
    assert answer["emergency_stop"] is True and answer["desired_state"] == "stopped"
    assert [c["type"] for c in answer["commands"]] == ["stop"]


def test_it_answers_a_global_emergency_stop_on_the_next_beat(agent_api, django_user_model):
    beat(agent_api)
    root = django_user_model.objects.create_superuser("root", password="x")
    engage_emergency_stop(business=None, reason="drill", actor=root)
    assert beat(agent_api).json()["emergency_stop"] is True


def test_it_delivers_a_new_command_on_the_next_beat_until_acknowledged(agent_api, agent):
    beat(agent_api)
    command = queue_command(agent=agent, type="restart")
    assert [c["id"] for c in beat(agent_api).json()["commands"]] == [command.pk]
    assert agent_api.post(f"/api/v1/agent/commands/{command.pk}/ack").status_code == 200
    assert beat(agent_api).json()["commands"] == []


def test_it_answers_an_exhausted_budget_on_the_next_beat(agent_api, agent, business, make_member):
    create_budget(business=business, actor=make_member(), period="day", limit_usd=Decimal("1"))
    assert beat(agent_api).json()["budget_exhausted"] is False
    budgets.settle(business=business, agent_id=agent.pk, ref="test:spend", actual=Decimal("1.5"))
    assert beat(agent_api).json()["budget_exhausted"] is True


@pytest.mark.redis
def test_it_buffers_steady_beats_in_redis_and_flushes_them_in_one_write(agent_api, agent):
    presence.flush()  # a flush ran: buffering is on
    beat(agent_api)  # the first beat is written at once
    first = Agent.objects.get(pk=agent.pk).last_heartbeat
    later = timezone.now() + timedelta(seconds=30)

    record_heartbeat(agent=agent, status="idle", now=later)
    assert Agent.objects.get(pk=agent.pk).last_heartbeat == first
    assert presence.flush() == 1
    stored = Agent.objects.get(pk=agent.pk)
    assert stored.last_heartbeat == later
    assert stored.offline_after == later + timedelta(seconds=stored.heartbeat_timeout_s)


@pytest.mark.redis
def test_the_offline_sweep_judges_on_buffered_beats(agent_api, agent):
    presence.flush()
    beat(agent_api)

    beat_at = timezone.now() + timedelta(seconds=50)
    record_heartbeat(agent=agent, status="idle", now=beat_at)  # buffered, not yet in the row
    # 70 s after the first beat the row alone says offline; the buffered beat says otherwise.
    assert sweep_presence(now=beat_at + timedelta(seconds=20))["offline"] == 0
    assert Agent.objects.get(pk=agent.pk).offline_since is None


def test_it_writes_beats_at_once_when_no_flush_runs(agent_api, agent):
    beat(agent_api)

    later = timezone.now() + timedelta(seconds=30)
    record_heartbeat(agent=agent, status="idle", now=later)  # no worker flushing: straight to the row
    assert Agent.objects.get(pk=agent.pk).last_heartbeat == later


def test_a_change_made_while_the_cache_was_unreachable_shows_once_it_is_back(
    agent_api, business, make_member, monkeypatch
):
    from django.core.cache import cache

    from mission_control import redis_outage

    beat(agent_api)  # answers cached under the current counters
    with monkeypatch.context() as broken:
        broken.setattr(cache, "incr", lambda *a, **k: (_ for _ in ()).throw(OSError("unreachable")))
        broken.setattr(cache, "add", lambda *a, **k: (_ for _ in ()).throw(OSError("unreachable")))
        engage_emergency_stop(business=business, reason="drill", actor=make_member())
    redis_outage.CACHE.reset()  # the cache answers again (its counters never saw the stop)
    assert beat(agent_api).json()["emergency_stop"] is True


def test_a_cached_answer_is_read_again_after_its_max_age(agent_api, agent, settings, monkeypatch):
    """A change whose bump was lost (made with a queryset update here, which sends no signal) is
    answered once the cached answer is MC_HEARTBEAT_ANSWER_MAX_AGE_S old, not before."""
    import time

    from agents import heartbeats

    settings.MC_HEARTBEAT_ANSWER_MAX_AGE_S = 30
    clock, wall, real = [time.monotonic()], time.time, [0.0]
    monkeypatch.setattr(heartbeats.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(heartbeats.time, "time", lambda: wall() + clock[0] - real[0])  # shared copies
    real[0] = clock[0]
    beat(agent_api)  # the first beat brings the agent online (a bump): the second one is cached
    assert beat(agent_api).json()["desired_state"] == "running"
    Agent.objects.filter(pk=agent.pk).update(desired_state="stopped")  # no bump
    clock[0] += 29
    assert beat(agent_api).json()["desired_state"] == "running"
    clock[0] += 2
    assert beat(agent_api).json()["desired_state"] == "stopped"


def test_a_business_budget_exhausted_shows_on_every_agents_next_beat(
    agent_api, business, make_agent, make_member
):
    """The flags are cached per business: a change to them reaches agents whose answers were
    cached, and agents whose answers are loaded afterwards."""
    from tests.conftest import agent_client

    other = agent_client(make_agent())
    for client in (agent_api, other):
        beat(client)
        assert beat(client).json()["budget_exhausted"] is False
    budget = create_budget(business=business, period="month", limit_usd=Decimal("1"), actor=make_member())
    budgets.settle(business=business, agent_id=other.agent.pk, ref="x", actual=Decimal("1"))
    assert budget.windows.get().spent_usd == Decimal("1")
    late = agent_client(make_agent())
    for client in (agent_api, other, late):
        assert beat(client).json()["budget_exhausted"] is True


@pytest.mark.redis
def test_the_flush_writes_a_keys_use_to_the_minute_in_one_statement(agent_api, agent):
    """Every beat notes its key's use in Redis; the flush writes ``last_used_at`` when the use is a
    minute newer than the row, so a fleet's keys cost one statement per flush, not a row each beat."""
    key = agent.keys.get()
    beat(agent_api)  # checks the key in the database: last_used_at is written there
    beat(agent_api)  # and again, now after reading the agent's counter: trusted from here on
    written = AgentKey.objects.get(pk=key.pk).last_used_at
    assert written is not None

    presence.write_key_uses({key.pk: written + timedelta(seconds=30)})  # within the minute: kept
    assert AgentKey.objects.get(pk=key.pk).last_used_at == written
    later = written + timedelta(seconds=61)
    with CaptureQueriesContext(connection) as queries:
        assert presence.write_key_uses({key.pk: later, key.pk + 10_000: later}) == 1
    assert AgentKey.objects.get(pk=key.pk).last_used_at == later
    if connection.vendor == "postgresql":
        assert len([q for q in queries if "agentkey" in q["sql"]]) == 1

    AgentKey.objects.filter(pk=key.pk).update(last_used_at=written - timedelta(minutes=5))
    beat(agent_api)  # a warm beat: the use goes to Redis only
    assert AgentKey.objects.get(pk=key.pk).last_used_at == written - timedelta(minutes=5)
    presence.flush()
    assert AgentKey.objects.get(pk=key.pk).last_used_at > written - timedelta(minutes=1)


@pytest.mark.redis
def test_a_beat_whose_counters_cannot_be_read_is_answered_from_the_database(agent_api, monkeypatch):
    """Redis emptied under the beat (a restart, a failover) and the counters not readable again: the
    key is checked in the database and the beat answered, with nothing shared to trust it under."""
    from mission_control import control_versions

    beat(agent_api)
    cache.clear()  # every counter gone
    monkeypatch.setattr(control_versions, "read", lambda *scopes: None)
    assert beat(agent_api).status_code == 200
    assert beat(agent_api).status_code == 200
