"""Reads of the workflows app (cron jobs, workflows and runs), always scoped to what the caller may see (a stranger's object is a 404)."""

from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from governance.access import filter_by_business, is_agent, require_role, visible_businesses
from governance.roles import Role
from mission_control.errors import DomainError
from workflows import schedules
from workflows.models import CronJob, CronRun, CronRunStatus, Workflow, WorkflowRun
from workflows.models.cron import FINISHED_RUN

CALENDAR_LIMIT_PER_JOB = 500


def _visible(qs: QuerySet, user) -> QuerySet:
    return qs.filter(business__in=visible_businesses(user))


def _get(qs: QuerySet, *, user, pk: int, role: str):
    obj = _visible(qs, user).filter(pk=pk).first()
    if obj is None:
        raise DomainError("not_found", "Not found.")
    if role != Role.VIEWER or not is_agent(user):
        require_role(user, obj.business_id, role)  # 403 for a member below the role, or an agent key
    return obj


# --- cron -------------------------------------------------------------------------------------
def cron_jobs(*, user, business: str | None = None, enabled: bool | None = None, agent: int | None = None):
    jobs = filter_by_business(_visible(CronJob.objects.all(), user), user, business)
    if enabled is not None:
        jobs = jobs.filter(enabled=enabled)
    if agent is not None:
        jobs = jobs.filter(agent_id=agent)
    return jobs.select_related("business")


def get_cron_job(*, user, pk: int, role: str = Role.VIEWER) -> CronJob:
    return _get(CronJob.objects.select_related("business", "agent", "workflow"), user=user, pk=pk, role=role)


def cron_figures(*, business_ids: list[int] | None, since: datetime, until: datetime) -> dict:
    """Cron runs scheduled in ``[since, until)`` that finished, and how many succeeded: the one
    source of "cron runs" and "cron success" on every page and dashboard (the cron page's per-job
    figures count the same rows over the job's life). ``business_ids`` None: every business."""
    runs = CronRun.objects.filter(scheduled_for__gte=since, scheduled_for__lt=until, status__in=FINISHED_RUN)
    if business_ids is not None:
        runs = runs.filter(cron_job__business_id__in=business_ids)
    counts = runs.aggregate(
        finished=Count("pk"), succeeded=Count("pk", filter=Q(status=CronRunStatus.SUCCESS))
    )
    finished = counts["finished"] or 0
    return {
        "runs": finished,
        "succeeded": counts["succeeded"] or 0,
        "success_rate": round(counts["succeeded"] / finished, 4) if finished else None,
    }


def cron_runs(*, job: CronJob, status: str | None = None) -> QuerySet[CronRun]:
    runs = job.runs.all()
    return runs.filter(status=status) if status else runs


def calendar(*, user, business: str | None, start: datetime, end: datetime) -> tuple[list[dict], bool]:
    """Past runs (rows) and upcoming runs (computed) of the caller's jobs in ``[start, end)``."""
    jobs = list(cron_jobs(user=user, business=business))
    names = {job.pk: job for job in jobs}
    entries: list[dict] = []
    runs = CronRun.objects.filter(cron_job__in=jobs, scheduled_for__gte=start, scheduled_for__lt=end)
    for run in runs.order_by("scheduled_for"):
        job = names[run.cron_job_id]
        entries.append(
            {
                "kind": "run",
                "at": run.scheduled_for,
                "cron_job": job.pk,
                "name": job.name,
                "business": job.business.slug,
                "status": run.status,
                "reason": run.reason,
                "manual": run.manual,
                "cron_run": run.pk,
                "execution": run.execution_id,
                "workflow_run": run.workflow_run_id,
                "duration_ms": run.duration_ms,
            }
        )
    truncated = False
    upcoming_from = max(start, timezone.now())
    for job in jobs:
        if not job.is_firing or upcoming_from >= end:
            continue
        times, cut = schedules.between(job.schedule, job.timezone, upcoming_from, end, CALENDAR_LIMIT_PER_JOB)
        truncated = truncated or cut
        entries.extend(
            {
                "kind": "scheduled",
                "at": moment,
                "cron_job": job.pk,
                "name": job.name,
                "business": job.business.slug,
                "status": "scheduled",
            }
            for moment in times
        )
    entries.sort(key=lambda e: (e["at"], e["cron_job"]))
    return entries, truncated


# --- workflows --------------------------------------------------------------------------------
def workflows(*, user, business: str | None = None) -> QuerySet[Workflow]:
    return filter_by_business(_visible(Workflow.objects.all(), user), user, business).select_related(
        "business", "current_version"
    )


def get_workflow(*, user, pk: int, role: str = Role.VIEWER) -> Workflow:
    return _get(workflows(user=user), user=user, pk=pk, role=role)


def workflow_runs(*, user, business: str | None = None, **filters) -> QuerySet[WorkflowRun]:
    qs = filter_by_business(_visible(WorkflowRun.objects.all(), user), user, business)
    qs = qs.filter(**{k: v for k, v in filters.items() if v is not None})
    return qs.select_related("business", "workflow", "version").prefetch_related("steps")


def get_workflow_run(*, user, pk: int, role: str = Role.VIEWER) -> WorkflowRun:
    return _get(workflow_runs(user=user), user=user, pk=pk, role=role)
