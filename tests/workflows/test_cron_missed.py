"""Missed runs: the sweeper reports, once, a slot that did not start within the grace period."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from executions.models import Execution
from mission_control.models import Event
from workflows import cron, cron_firing
from workflows.models import CronRun
from workflows.tasks import sweep_cron

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0 - timedelta(minutes=30), tick=False) as traveller:
        yield traveller


def hourly(business, agent, **fields):
    return cron.create_job(business=business, name="hourly", schedule="0 * * * *", agent=agent, grace_seconds=300,
                           **fields)  # fmt: skip


def test_a_slot_not_started_within_grace_is_reported_missed_once(clock, business, agent):
    job = hourly(business, agent)
    clock.move_to(T0 + timedelta(seconds=30))  # beat's to fire yet
    assert sweep_cron() == {"missed": 0, "fired_late": 0, "max_runtime_exceeded": 0}
    clock.move_to(T0 + timedelta(minutes=6))
    assert sweep_cron()["missed"] == 1
    assert sweep_cron()["missed"] == 0  # reported once
    run = CronRun.objects.get(cron_job=job)
    assert (run.status, run.scheduled_for) == ("missed", T0)
    event = Event.objects.get(kind="cron.missed")
    assert event.data["cron_job"] == job.pk and event.data["scheduled_for"] == T0.isoformat()
    job.refresh_from_db()
    assert job.last_status == "missed"


def test_a_slot_that_ran_is_not_missed(clock, business, agent):
    job = hourly(business, agent)
    clock.move_to(T0 + timedelta(seconds=2))
    cron_firing.fire(cron_job_id=job.pk)
    clock.move_to(T0 + timedelta(minutes=10))
    assert cron_firing.detect_missed() == []


def test_a_firing_arriving_after_the_grace_period_is_not_run(clock, business, agent):
    job = hourly(business, agent)
    clock.move_to(T0 + timedelta(minutes=7))  # beat (or the worker) was down
    run = cron_firing.fire(cron_job_id=job.pk)
    assert run.status == "missed"
    assert not Execution.objects.exists()
    assert cron_firing.detect_missed() == []  # the same slot is not reported twice


def test_paused_jobs_and_slots_before_a_job_existed_are_not_missed(clock, business, agent, make_agent):
    paused = hourly(business, agent)
    cron.pause_job(job=paused)
    clock.move_to(T0 + timedelta(minutes=6))
    later = cron.create_job(
        business=business,
        name="late",
        schedule="0 * * * *",
        agent=make_agent(capabilities=["code"]),
        grace_seconds=60,
    )
    assert cron_firing.detect_missed() == []
    cron.resume_job(job=paused)  # resuming starts the accounting afresh
    assert cron_firing.detect_missed() == []
    clock.move_to(T0 + timedelta(hours=1, minutes=2))
    accounted = {run.cron_job_id: run.status for run in cron_firing.detect_missed()}
    # later's grace (60 s) has passed; paused's (300 s) has not: that slot fires late instead
    assert accounted == {later.pk: "missed", paused.pk: "running"}
