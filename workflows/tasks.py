"""Celery entry points of the workflows app: they load ids, call services and hold no logic."""

from datetime import datetime

from celery import shared_task
from django.utils.dateparse import parse_datetime

from workflows import cron_firing, runs

CRON_SWEEP_EVERY_S = 30
RUN_SWEEP_EVERY_S = 10


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def fire_cron_job(cron_job_id: int, scheduled_for: str | None = None) -> int | None:
    """Fired by beat (a job's PeriodicTask). Idempotent per scheduled time; returns the run id."""
    slot: datetime | None = parse_datetime(scheduled_for) if scheduled_for else None
    run = cron_firing.fire(cron_job_id=cron_job_id, scheduled_for=slot)
    return run.pk if run else None


# expires: a sweep that waited longer than its interval is superseded by the next one.
@shared_task(acks_late=True, expires=CRON_SWEEP_EVERY_S, soft_time_limit=120, time_limit=180)
def sweep_cron() -> dict:
    """Account for every slot that passed without a run (fired late within grace, else reported
    missed, once each) and fail runs past their job's max runtime."""
    accounted = cron_firing.detect_missed()
    overdue = cron_firing.enforce_max_runtime()
    missed = sum(1 for run in accounted if run.status == "missed")
    return {"missed": missed, "fired_late": len(accounted) - missed, "max_runtime_exceeded": len(overdue)}


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def advance_run(run_id: int) -> str | None:
    """Move a workflow run on (idempotent, under the run's row lock)."""
    run = runs.advance(run_id=run_id)
    return run.status if run else None


@shared_task(acks_late=True, expires=RUN_SWEEP_EVERY_S, soft_time_limit=120, time_limit=180)
def sweep_workflow_runs() -> int:
    """Advance runs the clock made due: retries after backoff, step timeouts, lost signals."""
    due = runs.due_run_ids()
    for run_id in due:
        advance_run.delay(run_id)
    return len(due)
