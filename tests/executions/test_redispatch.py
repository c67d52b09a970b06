"""A push delivery lost to a killed worker or a broker outage is sent again within a minute or so,
and the resend says it is one (issue 13: it took 380 s and looked like new work)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from executions.dispatch import redispatch_stale
from executions.models import Execution
from executions.services import start_execution


@pytest.fixture
def push_agent(make_agent, push_server):
    server = push_server()
    agent = make_agent("pusher", mode="push", endpoint_url=server.url)
    agent.server = server
    return agent


def _lost_first_delivery(agent, seconds_ago: int) -> Execution:
    """Attempt 1 was POSTed, then the worker died before recording the answer."""
    execution = start_execution(agent=agent, trigger="manual", input={"task": "go"})
    sent = timezone.now() - timedelta(seconds=seconds_ago)
    Execution.objects.filter(pk=execution.pk).update(
        created_at=sent,
        delivery_attempts=1,
        last_dispatch_at=sent,
        dispatch_lease_until=sent + timedelta(seconds=40),
    )
    return execution


@pytest.mark.django_db
def test_it_resends_a_delivery_lost_mid_post_within_a_minute(push_agent):
    execution = _lost_first_delivery(push_agent, seconds_ago=60)
    assert redispatch_stale() == 1
    [request] = push_agent.server.requests
    assert request["json"]["execution"]["id"] == execution.pk
    execution.refresh_from_db()
    assert execution.status == "running"


@pytest.mark.django_db
def test_it_says_the_resend_is_a_redelivery(push_agent):
    _lost_first_delivery(push_agent, seconds_ago=60)
    redispatch_stale()
    [request] = push_agent.server.requests
    assert (request["json"]["redelivery"], request["json"]["delivery_attempt"]) == (True, 2)
    assert request["headers"]["X-MC-Redelivery"] == "true"


@pytest.mark.django_db
def test_it_leaves_a_delivery_still_in_flight_alone(push_agent):
    _lost_first_delivery(push_agent, seconds_ago=20)  # its lease has 20 s to go
    assert redispatch_stale() == 0
    assert push_agent.server.requests == []


@pytest.mark.django_db
def test_it_sends_work_the_broker_never_carried(push_agent):
    execution = start_execution(agent=push_agent, trigger="manual")  # no commit: never enqueued
    with time_machine.travel(timezone.now() + timedelta(seconds=45), tick=False):
        assert redispatch_stale() == 1
    [request] = push_agent.server.requests
    assert (request["json"]["redelivery"], request["json"]["delivery_attempt"]) == (False, 1)
    assert Execution.objects.get(pk=execution.pk).status == "running"


@pytest.mark.django_db
def test_it_does_not_hurry_a_retry_waiting_out_its_backoff(push_agent):
    execution = start_execution(agent=push_agent, trigger="manual")
    sent = timezone.now() - timedelta(seconds=40)
    # Attempt 5 failed 40 s ago: the next one is due after 10 s timeout + 32 s backoff.
    Execution.objects.filter(pk=execution.pk).update(
        created_at=sent - timedelta(minutes=5), delivery_attempts=5, last_dispatch_at=sent
    )
    assert redispatch_stale() == 0
