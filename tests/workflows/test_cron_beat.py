"""Beat really fires cron jobs: django-celery-beat's DatabaseScheduler, ticked with a moved clock,
sends ``fire_cron_job`` from the job's PeriodicTask, which starts a ``cron`` execution."""

from datetime import UTC, datetime

import pytest
import time_machine
from django_celery_beat.schedulers import DatabaseScheduler

from executions.models import Execution
from mission_control.celery import app
from mission_control.models import Event
from workflows import cron
from workflows.models import CronRun
from workflows.tasks import fire_cron_job

# Registered with the app (as a worker's autodiscovery does), beat applies the task itself, and
# under CELERY_TASK_ALWAYS_EAGER it runs here, in the test, with the kwargs stored on the entry.
assert fire_cron_job.name in app.tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def beat():
    """``beat()`` -> a DatabaseScheduler; its exit-time sync runs at teardown, while the test
    database still exists."""
    made: list[DatabaseScheduler] = []

    def make() -> DatabaseScheduler:
        made.append(DatabaseScheduler(app=app, lazy=False))
        return made[-1]

    yield make
    for scheduler in made:
        scheduler._finalize()


def tick(scheduler: DatabaseScheduler, times: int = 1) -> None:
    for _ in range(times):
        scheduler.tick()


def test_beat_fires_a_due_job_through_the_database_scheduler(beat, business, agent):
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC), tick=False) as clock:
        job = cron.create_job(business=business, name="minutely", schedule="* * * * *", agent=agent)
        scheduler = beat()
        tick(scheduler)
        assert not CronRun.objects.exists()  # not due before 09:01
        clock.move_to(datetime(2026, 3, 2, 9, 1, 1, tzinfo=UTC))
        tick(scheduler)
    run = CronRun.objects.get(cron_job=job)
    assert run.scheduled_for == datetime(2026, 3, 2, 9, 1, tzinfo=UTC)
    assert run.status == "running"
    execution = Execution.objects.get(pk=run.execution_id)
    assert (execution.trigger, execution.cron_job_id, execution.status) == ("cron", job.pk, "pending")
    assert Event.objects.filter(kind="cron.triggered", execution_id=execution.pk).exists()


def test_a_paused_job_is_not_fired_by_beat(beat, business, agent):
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC), tick=False) as clock:
        job = cron.create_job(business=business, name="minutely", schedule="* * * * *", agent=agent)
        cron.pause_job(job=job)
        scheduler = beat()
        clock.move_to(datetime(2026, 3, 2, 9, 1, 1, tzinfo=UTC))
        tick(scheduler, 2)
    assert not CronRun.objects.exists()
    assert not Execution.objects.exists()


def test_beat_fires_at_the_local_time_across_a_dst_change(beat, business, agent):
    # 09:00 in Paris is 08:00 UTC before the spring change (2026-03-29) and 07:00 UTC after it.
    with time_machine.travel(datetime(2026, 3, 28, 7, 30, tzinfo=UTC), tick=False) as clock:
        job = cron.create_job(
            business=business, name="morning", schedule="0 9 * * *", timezone="Europe/Paris", agent=agent,
            overlap="allow",  # the first day's execution is never finished here
        )  # fmt: skip
        scheduler = beat()
        clock.move_to(datetime(2026, 3, 28, 8, 0, 2, tzinfo=UTC))
        tick(scheduler)
        clock.move_to(datetime(2026, 3, 29, 6, 59, 0, tzinfo=UTC))
        tick(scheduler)
        clock.move_to(datetime(2026, 3, 29, 7, 0, 2, tzinfo=UTC))
        tick(scheduler)
    slots = list(
        CronRun.objects.filter(cron_job=job).order_by("scheduled_for").values_list("scheduled_for", flat=True)
    )
    assert slots == [datetime(2026, 3, 28, 8, 0, tzinfo=UTC), datetime(2026, 3, 29, 7, 0, tzinfo=UTC)]
    assert Execution.objects.filter(cron_job_id=job.pk).count() == 2
