"""Cron jobs: create, change, pause, resume, delete, and keep beat's ``PeriodicTask`` in step.

Each job owns one django-celery-beat ``PeriodicTask`` (named ``cron-job:<id>``) on a
``CrontabSchedule`` carrying the job's time zone; beat's DatabaseScheduler fires
``workflows.tasks.fire_cron_job`` from it. Every change to a job goes through here so the two never
drift. Firing, run tracking and the sweeps live in :mod:`workflows.cron_firing`.
"""

import json

from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from governance import audit
from governance.audit import actor_name
from governance.controls import emergency_stop_active
from governance.models import Business
from mission_control.errors import DomainError
from mission_control.events import publish
from workflows import schedules
from workflows.models import CronJob, Overlap

FIRE_TASK = "workflows.tasks.fire_cron_job"
TASK_PREFIX = "cron-job:"
EDITABLE = (
    "name",
    "description",
    "schedule",
    "timezone",
    "agent",
    "workflow",
    "capability",
    "input",
    "enabled",
    "overlap",
    "grace_seconds",
    "max_runtime_s",
    "retry_policy",
    "failure_alert_after",
)


def invalid(field: str, message: str) -> DomainError:
    return DomainError("validation_error", f"{field}: {message}", fields={field: [message]})


def validate(job: CronJob) -> None:
    """Check a job before saving: expression, zone, target and its business. 400 naming the field."""
    try:
        schedules.validate_expression(job.schedule)
        schedules.validate_timezone(job.timezone)
    except schedules.ScheduleError as exc:
        raise invalid(exc.field, exc.message) from None
    if [job.agent_id is not None, job.workflow_id is not None, bool(job.capability)].count(True) != 1:
        raise invalid("agent", "Give exactly one target: an agent, a workflow or a capability.")
    if job.agent_id and job.agent.business_id != job.business_id:
        raise invalid("agent", "No such agent in this business.")
    if job.workflow_id and job.workflow.business_id != job.business_id:
        raise invalid("workflow", "No such workflow in this business.")
    if job.overlap not in Overlap.values:
        raise invalid("overlap", f"Choose one of {', '.join(Overlap.values)}.")
    if not isinstance(job.input, dict):
        raise invalid("input", "The input must be a JSON object.")
    if job.max_runtime_s is not None and job.max_runtime_s < 1:
        raise invalid("max_runtime_s", "Give at least one second, or leave it empty.")
    if job.retry_policy is not None and not isinstance(job.retry_policy, dict):
        raise invalid("retry_policy", "The retry policy must be a JSON object.")
    clash = CronJob.objects.filter(business_id=job.business_id, name=job.name).exclude(pk=job.pk)
    if clash.exists():
        raise DomainError("name_taken", f"A cron job named '{job.name}' already exists here.")


def sync_beat(job: CronJob) -> PeriodicTask:
    """Create or update the job's PeriodicTask so beat fires exactly what the job says."""
    fields = schedules.validate_expression(job.schedule)
    crontab = CrontabSchedule.objects.filter(
        minute=fields.minute,
        hour=fields.hour,
        day_of_month=fields.day_of_month,
        month_of_year=fields.month_of_year,
        day_of_week=fields.day_of_week,
        timezone=job.timezone,
    ).first() or CrontabSchedule.objects.create(
        minute=fields.minute,
        hour=fields.hour,
        day_of_month=fields.day_of_month,
        month_of_year=fields.month_of_year,
        day_of_week=fields.day_of_week,
        timezone=job.timezone,
    )
    task = job.periodic_task or PeriodicTask(name=f"{TASK_PREFIX}{job.pk}")
    task.task = FIRE_TASK
    task.kwargs = json.dumps({"cron_job_id": job.pk})
    task.args = "[]"
    task.crontab = crontab
    task.interval = None
    task.enabled = job.is_firing
    # A firing still queued after the grace period is stale: the worker drops it and the sweeper
    # reports the slot missed, instead of running an old job late.
    task.expire_seconds = job.grace_seconds or None
    task.description = f"{job.business.slug}/{job.name}: {schedules.describe(job.schedule)} ({job.timezone})"[
        :200
    ]
    task.save()  # PeriodicTask.save marks the schedule changed: beat reloads it
    if job.periodic_task_id != task.pk:
        job.periodic_task = task
        CronJob.objects.filter(pk=job.pk).update(periodic_task=task)
    return task


def snapshot(job: CronJob) -> dict:
    return {
        "name": job.name,
        "schedule": job.schedule,
        "timezone": job.timezone,
        "agent": job.agent_id,
        "workflow": job.workflow_id,
        "capability": job.capability,
        "enabled": job.enabled,
        "overlap": job.overlap,
        "grace_seconds": job.grace_seconds,
        "max_runtime_s": job.max_runtime_s,
    }


@transaction.atomic
def create_job(*, business: Business, name: str, schedule: str, actor=None, **fields) -> CronJob:
    """Create a job and its beat entry. While an emergency stop covers the business a new enabled
    job is held, so it starts firing only when the stop is released."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise TypeError(f"unknown cron job fields: {sorted(unknown)}")
    job = CronJob(business=business, name=name, schedule=" ".join(schedule.split()), **fields)
    job.created_by = actor_name(actor)
    validate(job)
    job.held_by_stop = job.enabled and emergency_stop_active(business.pk)
    job.active_since = timezone.now()
    job.save()
    sync_beat(job)
    audit.record(
        actor=actor,
        action="cron_job.create",
        business=business,
        target_type="cron_job",
        target_id=job.pk,
        after=snapshot(job),
    )
    publish(
        kind="cron.created",
        business=business,
        agent_id=job.agent_id,
        actor=actor_name(actor),
        message=f"Cron job {name} created ({job.describe()})",
        data={"cron_job": job.pk},
    )
    return job


@transaction.atomic
def update_job(*, job: CronJob, actor=None, **changes) -> CronJob:
    """Change a job; a new schedule, zone or re-enabling restarts missed-run accounting from now."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"unknown cron job fields: {sorted(unknown)}")
    job = (
        CronJob.objects.select_for_update(of=("self",), no_key=True).select_related("business").get(pk=job.pk)
    )
    before = snapshot(job)
    if "schedule" in changes:
        changes["schedule"] = " ".join(changes["schedule"].split())
    # A new target replaces the old one, whichever kind it was.
    if "agent" in changes and changes["agent"] is not None:
        changes.setdefault("workflow", None)
        changes.setdefault("capability", "")
    if "workflow" in changes and changes["workflow"] is not None:
        changes.setdefault("agent", None)
        changes.setdefault("capability", "")
    if changes.get("capability"):
        changes.setdefault("agent", None)
        changes.setdefault("workflow", None)
    for name, value in changes.items():
        setattr(job, name, value)
    validate(job)
    timing = {"schedule", "timezone"} & {k for k in changes if before.get(k) != getattr(job, k)}
    if timing or (changes.get("enabled") and not before["enabled"]):
        job.active_since = timezone.now()
    if "enabled" in changes:
        # Enabling during a stop holds the job; disabling forgets any hold (release must not revive it).
        job.held_by_stop = bool(job.enabled) and emergency_stop_active(job.business_id)
    job.save()
    sync_beat(job)
    audit.record(
        actor=actor,
        action="cron_job.update",
        business=job.business,
        target_type="cron_job",
        target_id=job.pk,
        before=before,
        after=snapshot(job),
    )
    publish(
        kind="cron.updated",
        business=job.business,
        agent_id=job.agent_id,
        actor=actor_name(actor),
        message=f"Cron job {job.name} updated",
        data={"cron_job": job.pk, "changed": sorted(changes)},
    )
    return job


def pause_job(*, job: CronJob, actor=None) -> CronJob:
    job = update_job(job=job, actor=actor, enabled=False)
    publish(
        kind="cron.paused",
        business=job.business,
        agent_id=job.agent_id,
        actor=actor_name(actor),
        message=f"Cron job {job.name} paused",
        data={"cron_job": job.pk},
    )
    return job


def resume_job(*, job: CronJob, actor=None) -> CronJob:
    job = update_job(job=job, actor=actor, enabled=True)
    publish(
        kind="cron.resumed",
        business=job.business,
        agent_id=job.agent_id,
        actor=actor_name(actor),
        message=f"Cron job {job.name} resumed"
        + (" (held by the emergency stop)" if job.held_by_stop else ""),
        data={"cron_job": job.pk, "held_by_stop": job.held_by_stop},
    )
    return job


@transaction.atomic
def delete_job(*, job: CronJob, actor=None) -> None:
    """Delete a job, its beat entry and its run history (the executions stay in the ledger)."""
    job = (
        CronJob.objects.select_for_update(of=("self",), no_key=True).select_related("business").get(pk=job.pk)
    )
    audit.record(
        actor=actor,
        action="cron_job.delete",
        business=job.business,
        target_type="cron_job",
        target_id=job.pk,
        before=snapshot(job),
    )
    publish(
        kind="cron.deleted",
        business=job.business,
        agent_id=job.agent_id,
        actor=actor_name(actor),
        message=f"Cron job {job.name} deleted",
        data={"cron_job": job.pk},
    )
    task = job.periodic_task
    job.runs.all().delete()
    job.delete()
    if task is not None:
        task.delete()


@transaction.atomic
def hold_for_stop(*, business_id: int | None) -> int:
    """An emergency stop was engaged: stop beat firing every enabled job in its scope."""
    jobs = CronJob.objects.firing().select_related("business", "periodic_task")
    if business_id is not None:
        jobs = jobs.filter(business_id=business_id)
    held = 0
    for job in jobs.select_for_update(of=("self",)):
        job.held_by_stop = True
        job.save(update_fields=["held_by_stop", "updated_at"])
        sync_beat(job)
        held += 1
    return held


@transaction.atomic
def release_for_stop(*, business_id: int | None) -> int:
    """A stop was released: resume the jobs it held, unless another stop still covers them.
    Jobs that were paused before the stop were never held, so they stay paused."""
    jobs = CronJob.objects.filter(held_by_stop=True).select_related("business", "periodic_task")
    if business_id is not None:
        jobs = jobs.filter(business_id=business_id)
    resumed = 0
    now = timezone.now()
    for job in jobs.select_for_update(of=("self",)):
        if emergency_stop_active(job.business_id):
            continue
        job.held_by_stop = False
        job.active_since = now  # slots that passed during the stop were not missed, they were held
        job.save(update_fields=["held_by_stop", "active_since", "updated_at"])
        sync_beat(job)
        resumed += 1
    return resumed
