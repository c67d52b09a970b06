"""A process that never saw an agent answers its beat from the copies another process left in Redis
(agents.heartbeat_shared), and still says every change on the very next beat. "Another process" is
this one with its own caches emptied."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents import heartbeat_gate, heartbeats
from agents.services import queue_command, revoke_key
from tests.agents.conftest import beat

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


def another_process() -> None:
    heartbeat_gate.keys.clear()
    heartbeats.answers.clear()
    heartbeats.flag_cache.clear()


def warm(client) -> dict:
    beat(client)  # the first beat brings the agent online (its counter moves)
    return beat(client).json()


def test_another_process_answers_from_the_copies_without_a_query(agent_api):
    answer = warm(agent_api)
    another_process()
    with CaptureQueriesContext(connection) as queries:
        again = beat(agent_api)
    assert again.status_code == 200 and len(queries) == 0
    assert {k: v for k, v in again.json().items() if k != "server_time"} == {
        k: v for k, v in answer.items() if k != "server_time"
    }


def test_a_revoked_key_is_refused_where_only_the_copy_was_known(agent_api, agent):
    warm(agent_api)
    another_process()
    revoke_key(key=agent.keys.get())
    assert beat(agent_api).status_code == 401
    another_process()
    assert beat(agent_api).status_code == 401


def test_a_command_queued_after_the_copy_shows_in_another_process(agent_api, agent):
    warm(agent_api)
    queue_command(agent=agent, type="restart")
    another_process()
    assert [c["type"] for c in beat(agent_api).json()["commands"]] == ["restart"]


def test_nothing_is_shared_while_redis_fails(agent_api, monkeypatch):
    from mission_control import redis_outage

    warm(agent_api)
    another_process()
    monkeypatch.setattr(redis_outage.CACHE, "down", lambda: True)
    assert beat(agent_api).status_code == 200  # the ordinary path, from the database
