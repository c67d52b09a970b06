"""A server that is stopping answers its agents' long-polls at once instead of holding them."""

import time

import pytest

from mission_control import shutdown


@pytest.fixture
def stopping(monkeypatch):
    monkeypatch.setattr(shutdown, "_stopping", type(shutdown._stopping)())
    shutdown.begin()


@pytest.mark.django_db
def test_it_answers_a_long_poll_at_once_when_the_server_is_stopping(pull_api, stopping):
    started = time.monotonic()
    response = pull_api.post("/api/v1/agent/executions/claim", {"wait_seconds": 20}, format="json")
    assert response.status_code == 204
    assert time.monotonic() - started < 2


def test_it_sleeps_the_whole_wait_when_not_stopping(monkeypatch):
    monkeypatch.setattr(shutdown, "_stopping", type(shutdown._stopping)())
    started = time.monotonic()
    assert shutdown.wait(0.2) is False
    assert time.monotonic() - started >= 0.2
