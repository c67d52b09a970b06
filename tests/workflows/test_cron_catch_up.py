"""After an outage of beat, the worker or the broker, every slot that should have fired is
accounted for once: fired late within its grace period, else reported missed (issue 13: only the
last one was, and the sweep deadlocked with firing)."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import override_settings

from executions.models import Execution
from mission_control.models import Event
from workflows import cron, cron_firing
from workflows.models import CronRun
from workflows.tasks import sweep_cron

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(T0 - timedelta(seconds=10), tick=False) as traveller:
        yield traveller


def every_minute(business, agent, **fields):
    fields.setdefault("grace_seconds", 30)
    return cron.create_job(business=business, name="minutely", schedule="* * * * *", agent=agent, **fields)


def slots(job, status=None):
    runs = CronRun.objects.filter(cron_job=job, manual=False).order_by("scheduled_for")
    if status:
        runs = runs.filter(status=status)
    return [run.scheduled_for for run in runs]


@pytest.mark.django_db
def test_it_reports_every_slot_missed_while_beat_was_down(clock, business, agent):
    job = every_minute(business, agent, overlap="allow")
    clock.move_to(T0 + timedelta(seconds=1))
    cron_firing.fire(cron_job_id=job.pk)  # beat fired T0, then went down
    clock.move_to(T0 + timedelta(minutes=5))
    assert sweep_cron()["missed"] == 3
    assert slots(job, "missed") == [T0 + timedelta(minutes=m) for m in (1, 2, 3)]
    assert Event.objects.filter(kind="cron.missed").count() == 3
    assert sweep_cron()["missed"] == 0  # once each


@pytest.mark.django_db
def test_it_fires_late_a_slot_still_within_its_grace_period(clock, business, agent):
    job = every_minute(business, agent, grace_seconds=300)
    clock.move_to(T0 + timedelta(minutes=2))  # the worker was down when T0 came
    result = sweep_cron()
    assert result["fired_late"] >= 1
    run = CronRun.objects.get(cron_job=job, scheduled_for=T0)
    assert (run.status, run.requested_by) == ("running", "catch-up")
    assert Execution.objects.filter(cron_job_id=job.pk).count() == 1


@pytest.mark.django_db
def test_a_later_beat_firing_of_a_caught_up_slot_does_nothing(clock, business, agent):
    job = every_minute(business, agent, overlap="allow")
    clock.move_to(T0 + timedelta(minutes=3))
    sweep_cron()
    before = CronRun.objects.count()
    cron_firing.fire(cron_job_id=job.pk, scheduled_for=T0)  # the broker delivers beat's old message
    assert CronRun.objects.count() == before


@pytest.mark.django_db
@override_settings(MC_CRON_MISSED_MAX=3)
def test_it_bounds_a_long_backlog_with_one_summary(clock, business, agent):
    job = every_minute(business, agent, overlap="allow")
    clock.move_to(T0 + timedelta(minutes=30))
    sweep_cron()
    assert slots(job) == [T0 + timedelta(minutes=m) for m in (26, 27, 28)]
    summary = Event.objects.get(kind="cron.missed", data__summary=True)
    assert summary.data["slots"] == 26 and summary.data["from"] == T0.isoformat()
    sweep_cron()
    assert Event.objects.filter(kind="cron.missed", data__summary=True).count() == 1


@pytest.mark.django_db
def test_it_ignores_slots_before_the_job_existed(clock, business, agent):
    clock.move_to(T0 + timedelta(minutes=10))
    job = every_minute(business, agent)
    clock.move_to(T0 + timedelta(minutes=10, seconds=50))
    sweep_cron()
    assert slots(job) == []


@pytest.mark.django_db
def test_a_skip_job_does_not_wait_on_a_run_whose_execution_ended_unannounced(clock, business, agent):
    job = every_minute(business, agent, overlap="skip", grace_seconds=300)
    clock.move_to(T0 + timedelta(seconds=1))
    first = cron_firing.fire(cron_job_id=job.pk)
    # The execution ended but the process died before telling the cron run.
    Execution.objects.filter(pk=first.execution_id).update(status="failed", error="lost")
    clock.move_to(T0 + timedelta(minutes=1, seconds=1))
    second = cron_firing.fire(cron_job_id=job.pk)
    assert second.status == "running"
    first.refresh_from_db()
    assert first.status == "failed"


@pytest.mark.django_db
def test_a_cron_execution_without_max_runtime_still_has_a_deadline(clock, business, agent):
    job = every_minute(business, agent)
    clock.move_to(T0 + timedelta(seconds=1))
    run = cron_firing.fire(cron_job_id=job.pk)
    assert run.execution.timeout_s is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_firing_and_catching_up_at_once_never_deadlock_nor_double_fire(business, agent):
    with time_machine.travel(T0 - timedelta(seconds=10), tick=False) as clock:
        job = every_minute(business, agent, overlap="allow", grace_seconds=0)
        clock.move_to(T0 + timedelta(minutes=6))
        errors: list[Exception] = []
        gate = threading.Barrier(8)

        def beat(minute: int) -> None:
            try:
                gate.wait()
                if minute < 0:
                    cron_firing.catch_up(cron_job_id=job.pk)
                else:
                    cron_firing.fire(cron_job_id=job.pk, scheduled_for=T0 + timedelta(minutes=minute))
            except Exception as exc:
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=beat, args=(m,)) for m in (-1, 0, 1, 2, -1, 3, 4, -1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    assert slots(job) == [T0 + timedelta(minutes=m) for m in range(5)]
