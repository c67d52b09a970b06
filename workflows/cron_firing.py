"""Cron runs: firing (from beat or run-now), finishing, and the sweeps for missed and overlong runs.

A run row is written for every scheduled time, whatever happened to it (started, queued, skipped,
refused, missed), under a unique (job, slot) constraint: beat firing twice, or beat and the missed
sweeper racing, settle on one row. Decisions about a job are taken holding its row lock, so two
firings never both see "no run active".
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from executions.models import Execution, Trigger
from executions.routing import route_execution
from executions.services import abort_execution, start_execution
from governance import audit
from governance.audit import actor_name
from governance.controls import emergency_stop_active
from mission_control.conflicts import retrying
from mission_control.errors import DomainError
from mission_control.events import publish
from workflows import schedules
from workflows.models import CronJob, CronRun, CronRunStatus, Overlap
from workflows.models.cron import FINISHED_RUN
from workflows.runs import cancel_run, start_run

logger = logging.getLogger(__name__)

# Beat fires on the minute; a few seconds of slack keep a firing a hair early on the right slot.
FIRE_TOLERANCE = timedelta(seconds=5)
# Slots newer than this are left to beat; the catch-up sweep accounts for the older ones.
CATCH_UP_LAG = timedelta(seconds=60)
# The most slots one catch-up pass looks at per job (beyond: "at least N more").
CATCH_UP_SCAN = 10_000


def _locked_job(cron_job_id: int) -> CronJob | None:
    return (
        CronJob.objects.select_for_update(of=("self",))
        .select_related("business", "agent", "workflow")
        .filter(pk=cron_job_id)
        .first()
    )


@retrying
def fire(*, cron_job_id: int, scheduled_for: datetime | None = None) -> CronRun | None:
    """Fire a job for one scheduled time (default: the latest one now due). Idempotent per slot:
    a slot already fired, skipped or reported missed is left alone and its row returned."""
    now = timezone.now()
    with transaction.atomic():
        job = _locked_job(cron_job_id)
        if job is None:
            return None
        slot = scheduled_for or schedules.latest_at_or_before(
            job.schedule, job.timezone, now + FIRE_TOLERANCE
        )
        if slot is None:
            return None
        return _fire_slot(job, slot, now, requested_by="beat")


def _fire_slot(job: CronJob, slot: datetime, now: datetime, *, requested_by: str) -> CronRun:
    """Decide one slot of a job whose row lock the caller holds (the job first, then its runs)."""
    existing = job.runs.filter(scheduled_for=slot, manual=False).first()
    if existing is not None:
        return existing
    run = CronRun(cron_job=job, scheduled_for=slot, requested_by=requested_by)
    if not job.enabled:
        _close_unstarted(job, run, CronRunStatus.SKIPPED, "paused", "The job is paused.")
    elif job.held_by_stop or emergency_stop_active(job.business_id):
        _close_unstarted(job, run, CronRunStatus.REFUSED, "emergency_stop", "The emergency stop is engaged.")
    elif now - slot > timedelta(seconds=job.grace_seconds or 0) + FIRE_TOLERANCE:
        _report_missed(
            job, run, "No run started within the grace period (was beat, the worker or the broker down?)."
        )
    else:
        _start_or_wait(job, run)
    return run


@transaction.atomic
def run_now(*, job: CronJob, actor=None) -> CronRun:
    """Start the job at once. Refusals (stop, budget, restriction) are raised, not recorded; a job
    whose overlap policy is not ``allow`` refuses with 409 ``run_active`` while a run is active."""
    job = _locked_job(job.pk)
    if job.overlap != Overlap.ALLOW and job.runs.active().exists():
        raise DomainError(
            "run_active", f"Cron job {job.name} has a run in progress (overlap: {job.overlap})."
        )
    run = CronRun(cron_job=job, scheduled_for=timezone.now(), manual=True, requested_by=actor_name(actor))
    _launch(job, run, actor=actor, raise_refusal=True)
    audit.record(
        actor=actor,
        action="cron_job.run_now",
        business=job.business,
        target_type="cron_job",
        target_id=job.pk,
        after={"cron_run": run.pk, "execution": run.execution_id, "workflow_run": run.workflow_run_id},
    )
    return run


def _start_or_wait(job: CronJob, run: CronRun) -> None:
    if job.overlap != Overlap.ALLOW:
        close_ended_runs(job)
    if job.overlap != Overlap.ALLOW and job.runs.active().exists():
        if job.overlap == Overlap.SKIP:
            _close_unstarted(job, run, CronRunStatus.SKIPPED, "overlap", "The previous run is still active.")
        elif job.runs.filter(status=CronRunStatus.QUEUED).exists():
            # One queued run is enough: a job that overruns its period must not grow a backlog forever.
            _close_unstarted(job, run, CronRunStatus.SKIPPED, "already_queued", "A run is already queued.")
        else:
            run.status = CronRunStatus.QUEUED
            run.save()
            _event(job, run, "cron.queued", f"Cron job {job.name} queued behind the active run")
        return
    _launch(job, run, actor=None)


def _launch(job: CronJob, run: CronRun, *, actor, raise_refusal: bool = False) -> None:
    """Start the job's target (an execution, or a workflow run) for ``run``."""
    now = timezone.now()
    try:
        with transaction.atomic():
            if job.agent_id:
                run.execution = start_execution(
                    agent=job.agent,
                    trigger=Trigger.CRON,
                    input=job.input,
                    actor=actor,
                    cron_job_id=job.pk,
                    timeout_s=job.max_runtime_s,
                    retry_policy=job.retry_policy,
                )
            elif job.capability:
                run.execution = route_execution(
                    business=job.business,
                    capability=job.capability,
                    trigger=Trigger.CRON,
                    input=job.input,
                    actor=actor,
                    cron_job_id=job.pk,
                    timeout_s=job.max_runtime_s,
                    retry_policy=job.retry_policy,
                )
            else:
                run.workflow_run = start_run(
                    workflow=job.workflow, input=job.input, trigger="cron", cron_job_id=job.pk, actor=actor
                )
    except DomainError as exc:
        if raise_refusal:
            raise
        _close_unstarted(job, run, CronRunStatus.REFUSED, exc.code, str(exc.detail))
        return
    run.status = CronRunStatus.RUNNING
    run.started_at = now
    run.save()
    job.last_run_at = now
    job.last_status = CronRunStatus.RUNNING
    job.save(update_fields=["last_run_at", "last_status", "updated_at"])
    _event(
        job, run, "cron.triggered", f"Cron job {job.name} triggered" + (" (run now)" if run.manual else "")
    )


def _close_unstarted(job: CronJob, run: CronRun, status: str, reason: str, detail: str) -> None:
    run.status, run.reason, run.detail = status, reason, detail
    run.finished_at = timezone.now()
    run.save()
    job.last_status = status
    job.save(update_fields=["last_status", "updated_at"])
    kind = "cron.refused" if status == CronRunStatus.REFUSED else "cron.skipped"
    _event(job, run, kind, f"Cron job {job.name} {status}: {detail}")


def _report_missed(job: CronJob, run: CronRun, detail: str) -> None:
    run.status, run.reason, run.detail = CronRunStatus.MISSED, "not_started", detail
    run.save()
    job.last_status = CronRunStatus.MISSED
    job.save(update_fields=["last_status", "updated_at"])
    _event(
        job, run, "cron.missed", f"Cron job {job.name} missed its {run.scheduled_for:%Y-%m-%d %H:%M} UTC run"
    )


def _event(job: CronJob, run: CronRun, kind: str, message: str) -> None:
    publish(
        kind=kind,
        business=job.business,
        agent_id=job.agent_id,
        execution_id=run.execution_id,
        actor=run.requested_by or "system",
        message=message,
        data={
            "cron_job": job.pk,
            "cron_run": run.pk,
            "scheduled_for": run.scheduled_for.isoformat(),
            "status": run.status,
            "reason": run.reason,
            "workflow_run": run.workflow_run_id,
            "manual": run.manual,
        },
    )


def finish(*, run_id: int, succeeded: bool, reason: str = "", detail: str = "", duration_ms=None) -> None:
    """Record the end of a running run: tracking figures, the failure alert, then the queued run."""
    job_id = CronRun.objects.filter(pk=run_id).values_list("cron_job_id", flat=True).first()
    if job_id is None:
        return
    with transaction.atomic():
        job = _locked_job(job_id)  # the job first, as firing does: no lock-order deadlock
        run = CronRun.objects.select_for_update().filter(pk=run_id, status=CronRunStatus.RUNNING).first()
        if job is None or run is None:
            return  # already finished (the max-runtime sweep, or a second signal)
        now = timezone.now()
        run.status = CronRunStatus.SUCCESS if succeeded else CronRunStatus.FAILED
        run.reason, run.detail, run.finished_at = reason, detail[:2000], now
        run.duration_ms = duration_ms if duration_ms is not None else _elapsed_ms(run.started_at, now)
        run.save()
        job.runs_finished = F("runs_finished") + 1
        job.runs_succeeded = F("runs_succeeded") + (1 if succeeded else 0)
        job.total_duration_ms = F("total_duration_ms") + (run.duration_ms or 0)
        job.consecutive_failures = 0 if succeeded else F("consecutive_failures") + 1
        job.last_status = run.status
        job.save()
        job.refresh_from_db()
        _event(job, run, "cron.succeeded" if succeeded else "cron.failed", _finish_message(job, run))
        if not succeeded and job.failure_alert_after and job.consecutive_failures == job.failure_alert_after:
            publish(
                kind="cron.failing",
                business=job.business,
                agent_id=job.agent_id,
                message=f"Cron job {job.name} failed {job.consecutive_failures} times in a row",
                data={"cron_job": job.pk, "consecutive_failures": job.consecutive_failures, "alert": True},
            )
        _start_queued(job)


def recount(*, job: CronJob) -> CronJob:
    """Rebuild a job's tracking figures (runs, successes, duration, failures in a row, last run)
    from its run rows: for history written in bulk (the demo, an import) rather than run by run."""
    with transaction.atomic():
        job = _locked_job(job.pk)
        finished = list(
            job.runs.filter(status__in=FINISHED_RUN)
            .order_by("scheduled_for")
            .values_list("status", "duration_ms")
        )
        streak = 0
        for status, _ in finished:
            streak = 0 if status == CronRunStatus.SUCCESS else streak + 1
        latest = job.runs.exclude(status=CronRunStatus.QUEUED).order_by("-scheduled_for").first()
        job.runs_finished = len(finished)
        job.runs_succeeded = sum(1 for status, _ in finished if status == CronRunStatus.SUCCESS)
        job.total_duration_ms = sum(ms or 0 for _, ms in finished)
        job.consecutive_failures = streak
        job.last_run_at = latest.started_at if latest else None
        job.last_status = latest.status if latest else ""
        job.save()
    return job


def _finish_message(job: CronJob, run: CronRun) -> str:
    outcome = "succeeded" if run.status == CronRunStatus.SUCCESS else f"failed ({run.reason or 'error'})"
    return f"Cron job {job.name} {outcome}"


def _elapsed_ms(start: datetime | None, end: datetime) -> int | None:
    return int((end - start).total_seconds() * 1000) if start else None


def _start_queued(job: CronJob) -> None:
    queued = job.runs.filter(status=CronRunStatus.QUEUED).order_by("scheduled_for").first()
    if queued is None:
        return
    if not job.enabled:
        _close_unstarted(job, queued, CronRunStatus.SKIPPED, "paused", "The job was paused.")
    elif job.held_by_stop or emergency_stop_active(job.business_id):
        _close_unstarted(
            job, queued, CronRunStatus.REFUSED, "emergency_stop", "The emergency stop is engaged."
        )
    else:
        _launch(job, queued, actor=None)


def detect_missed(*, now: datetime | None = None) -> list[CronRun]:
    """Account for every slot of every firing job that passed without a run row: fire it late when
    still within its grace period, else report it missed, once (see :func:`catch_up`)."""
    now = now or timezone.now()
    accounted = []
    for job_id in CronJob.objects.firing().order_by("pk").values_list("pk", flat=True):
        accounted.extend(catch_up(cron_job_id=job_id, now=now))
    return accounted


@retrying
def catch_up(*, cron_job_id: int, now: datetime | None = None) -> list[CronRun]:
    """Give every slot of the job since its last check (and not newer than ``CATCH_UP_LAG``, which
    are beat's to fire) a run row: a slot within its grace period fires late, an older one is
    reported missed. Beat down for minutes, a dead worker or a broker outage leave every slot
    accounted for, not just the last one.

    Bounded: at most ``MC_CRON_MISSED_MAX`` slots per job and sweep get a row (the most recent);
    any older ones are reported in one summary ``cron.missed`` event giving their number and span.
    Takes the job's row lock first, as firing does (then its runs): the two never deadlock.
    """
    now = now or timezone.now()
    with transaction.atomic():
        job = _locked_job(cron_job_id)
        if job is None or not job.is_firing:
            return []
        since = max(job.active_since, job.slots_checked_until or job.active_since)
        until = now - CATCH_UP_LAG
        if until <= since:
            return []
        slots, cut_off = schedules.between(job.schedule, job.timezone, since, until, limit=CATCH_UP_SCAN)
        have = set(
            job.runs.filter(manual=False, scheduled_for__in=slots).values_list("scheduled_for", flat=True)
        )
        todo = [slot for slot in slots if slot not in have]
        keep = settings.MC_CRON_MISSED_MAX
        older, recent = todo[: max(0, len(todo) - keep)], todo[-keep:] if keep else []
        runs = [_fire_slot(job, slot, now, requested_by="catch-up") for slot in recent]
        if older or cut_off:
            _report_backlog(job, older, cut_off, since, until)
        job.slots_checked_until = until
        job.save(update_fields=["slots_checked_until", "updated_at"])
        return [run for run in runs if run.pk]


def _report_backlog(
    job: CronJob, older: list[datetime], cut_off: bool, since: datetime, until: datetime
) -> None:
    count = len(older)
    first = older[0] if older else since
    last = older[-1] if older else until
    more = " at least" if cut_off else ""
    publish(
        kind="cron.missed",
        business=job.business,
        agent_id=job.agent_id,
        actor="system",
        message=(
            f"Cron job {job.name} missed{more} {count} more run(s) between {first:%Y-%m-%d %H:%M} and "
            f"{last:%Y-%m-%d %H:%M} UTC (the {settings.MC_CRON_MISSED_MAX} most recent are reported one by one)"
        ),
        data={
            "cron_job": job.pk,
            "summary": True,
            "slots": count,
            "more_not_counted": cut_off,
            "from": first.isoformat(),
            "until": last.isoformat(),
        },
    )


def close_ended_runs(job: CronJob) -> list[int]:
    """Finish the job's running runs whose execution or workflow run has already ended (the
    signal that should have told us was lost, e.g. a process died right after the commit), so
    the overlap rule never waits on a run that can no longer end."""
    ended = []
    runs = job.runs.active().select_related("execution", "workflow_run")
    for run in runs:
        work = run.execution or run.workflow_run
        if run.execution is not None:
            # The ledger may have retried it (its policy): the run follows the last attempt.
            work = Execution.objects.filter(pk=_last_attempt(run.execution.pk)).first()
            if work.pk != run.execution_id:
                CronRun.objects.filter(pk=run.pk).update(execution=work)
        if work is None or not work.is_terminal:
            continue
        if run.execution is not None:
            execution_finished(work)
        else:
            workflow_run_finished(run.workflow_run)
        ended.append(run.pk)
    return ended


def _last_attempt(execution_id: int) -> int:
    for _ in range(100):  # retry chains are short; the bound only guards against a cycle
        nxt = (
            Execution.objects.filter(retry_of_id=execution_id)
            .order_by("-pk")
            .values_list("pk", flat=True)
            .first()
        )
        if nxt is None:
            return execution_id
        execution_id = nxt
    return execution_id


def enforce_max_runtime(*, now: datetime | None = None) -> list[int]:
    """Fail runs going longer than their job's max runtime, and stop the work behind them."""
    now = now or timezone.now()
    for job in CronJob.objects.filter(pk__in=CronRun.objects.active().values("cron_job_id")):
        close_ended_runs(job)
    # Few runs are active at once, so the deadline is checked here rather than in SQL (SQLite
    # cannot multiply an interval by a column).
    active = CronRun.objects.active().filter(cron_job__max_runtime_s__isnull=False, started_at__isnull=False)
    failed = []
    for run in active.select_related("cron_job", "execution", "workflow_run"):
        limit = run.cron_job.max_runtime_s
        if run.started_at + timedelta(seconds=limit) > now:
            continue
        finish(
            run_id=run.pk,
            succeeded=False,
            reason="max_runtime_exceeded",
            detail=f"Still running after {limit} s.",
        )
        try:
            if run.execution is not None and not run.execution.is_terminal:
                abort_execution(execution=run.execution, reason=f"cron max runtime ({limit} s) exceeded")
            elif run.workflow_run is not None and not run.workflow_run.is_terminal:
                cancel_run(run=run.workflow_run, reason=f"cron max runtime ({limit} s) exceeded")
        except DomainError:
            logger.warning("could not stop the work of cron run %s", run.pk, exc_info=True)
        failed.append(run.pk)
    return failed


def execution_finished(execution, retry=None) -> None:
    """The ledger says an execution of a cron job ended: settle the run that started it. When the
    ledger retries it (the job's retry policy), the run follows the retry instead."""
    run = CronRun.objects.filter(execution_id=execution.pk, status=CronRunStatus.RUNNING).first()
    if run is None:
        return
    if retry is not None:
        CronRun.objects.filter(pk=run.pk, execution_id=execution.pk).update(execution=retry)
        return
    succeeded = execution.status == "success"
    finish(
        run_id=run.pk,
        succeeded=succeeded,
        reason=""
        if succeeded
        else (execution.status if execution.status == "aborted" else "execution_failed"),
        detail="" if succeeded else (execution.error or "")[:2000],
        duration_ms=execution.duration_ms,
    )


def workflow_run_finished(workflow_run) -> None:
    run = CronRun.objects.filter(workflow_run_id=workflow_run.pk, status=CronRunStatus.RUNNING).first()
    if run is None:
        return
    succeeded = workflow_run.status == "success"
    finish(
        run_id=run.pk,
        succeeded=succeeded,
        reason="" if succeeded else f"workflow_{workflow_run.status}",
        detail="" if succeeded else workflow_run.error[:2000],
    )
