"""Advice on schedules from cron firings and the ledger: cron jobs piling up at one minute (queue
spikes), work that fails at the same hour each day. Each says nothing below its minimum evidence."""

from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np

from executions.models import Execution, Status
from intelligence.findings import WINDOW, Found
from intelligence.models import SuggestionKind
from workflows.models import CronJob
from workflows.schedules import between

MIN_PILE = 3  # cron jobs firing at the same minute
MIN_PILE_WAIT_S = 5.0
MIN_HOUR_FAILURES = 5
MIN_HOUR_DAYS = 4
HOUR_RATE = 0.3


def _shifted(schedule: str, minutes: int) -> str | None:
    """The schedule ``minutes`` later when its minute field is one number (else None)."""
    fields = schedule.split()
    if len(fields) != 5 or not fields[0].isdigit():
        return None
    fields[0] = str((int(fields[0]) + minutes) % 60)
    return " ".join(fields)


def cron_piles(business_id: int, since: datetime, now: datetime) -> list[Found]:
    jobs = list(CronJob.objects.filter(business_id=business_id).firing().order_by("pk"))
    together: dict[datetime, list[CronJob]] = defaultdict(list)
    for job in jobs:
        times, _ = between(job.schedule, job.timezone, now, now + timedelta(days=1), 200)
        for moment in times:
            together[moment].append(job)
    piles = {tuple(j.pk for j in group): group for group in together.values() if len(group) >= MIN_PILE}
    if not piles:
        return []
    waits = defaultdict(list)
    for cron_id, created, started in (
        Execution.objects.filter(business_id=business_id, started_at__gte=since)
        .order_by()
        .values_list("cron_job_id", "created_at", "started_at")
    ):
        waits[cron_id].append((started - created).total_seconds())
    others = [w for key, items in waits.items() if key is None for w in items]
    usual = float(np.median(others)) if len(others) >= 10 else 0.0
    found = []
    for ids, group in piles.items():
        mine = [w for pk in ids for w in waits.get(pk, [])]
        if len(mine) < 10:
            continue
        wait = float(np.mean(mine))
        if wait < MIN_PILE_WAIT_S or wait < 2 * usual:
            continue
        spacing = max(1, 60 // (len(group) * 4))
        new = {job.pk: _shifted(job.schedule, k * spacing) for k, job in enumerate(group)}
        movable = all(v is not None for v in new.values())
        found.append(
            Found(
                kind=SuggestionKind.CRON_STAGGER,
                subject="cron_jobs:" + ",".join(str(pk) for pk in ids),
                label=", ".join(job.name for job in group),
                basis=";".join(f"{job.pk}={job.schedule}" for job in group),
                summary=(
                    f"{len(group)} cron jobs fire at the same minute; their runs waited {wait:.0f} s on average "
                    f"in the queue (other work: {usual:.0f} s): start them {spacing} min apart."
                ),
                evidence={
                    "jobs": [{"id": j.pk, "name": j.name, "schedule": j.schedule} for j in group],
                    "mean_queue_wait_s": round(wait, 1),
                    "usual_queue_wait_s": round(usual, 1),
                    "executions": len(mine),
                    "days": WINDOW.days,
                },
                expected_gain=f"queue wait {wait:.0f} s → about {max(usual, 0):.0f} s for these runs",
                gain={"queue_wait_before_s": round(wait, 1), "queue_wait_after_s": round(usual, 1)},
                change={
                    "type": "cron_schedules",
                    "schedules": {
                        str(pk): {"from": j.schedule, "to": new[pk]} for pk, j in zip(ids, group, strict=True)
                    },
                }
                if movable
                else None,
            )
        )
    return found


def failing_hours(business_id: int, since: datetime, names: dict[int, str]) -> list[Found]:
    rows = (
        Execution.objects.filter(
            business_id=business_id, started_at__gte=since, status__in=(Status.SUCCESS, Status.FAILED)
        )
        .order_by()
        .values_list("agent_id", "cron_job_id", "status", "started_at")
    )
    by_subject: dict[tuple[str, int], list[tuple[int, bool, object]]] = defaultdict(list)
    for agent_id, cron_id, status, started in rows:
        item = (started.hour, status == Status.FAILED, started.date())
        by_subject[("agent", agent_id)].append(item)
        if cron_id:
            by_subject[("cron_job", cron_id)].append(item)
    crons = {j.pk: j for j in CronJob.objects.filter(business_id=business_id)}
    found = []
    for (kind, pk), items in by_subject.items():
        for hour in range(24):
            at = [i for i in items if i[0] == hour]
            rest = [i for i in items if i[0] != hour]
            failures = [i for i in at if i[1]]
            days = {i[2] for i in failures}
            if len(failures) < MIN_HOUR_FAILURES or len(days) < MIN_HOUR_DAYS or not rest:
                continue
            rate = len(failures) / len(at)
            other = sum(i[1] for i in rest) / len(rest)
            if rate < HOUR_RATE or rate < 3 * max(other, 0.01):
                continue
            job = crons.get(pk) if kind == "cron_job" else None
            label = job.name if job else names.get(pk, f"{kind} {pk}")
            change = None
            if job is not None:
                fields = job.schedule.split()
                if (
                    len(fields) == 5
                    and fields[1].isdigit()
                    and int(fields[1]) == hour
                    and job.timezone == "UTC"
                ):
                    later = (hour + 2) % 24
                    change = {
                        "type": "cron_schedules",
                        "schedules": {
                            str(job.pk): {
                                "from": job.schedule,
                                "to": " ".join([fields[0], str(later), *fields[2:]]),
                            }
                        },
                    }
            found.append(
                Found(
                    kind=SuggestionKind.FAILING_HOUR,
                    subject=f"{kind}:{pk}",
                    label=label,
                    basis=f"{hour:02d}" + (f":{job.schedule}" if job else ""),
                    summary=(
                        f"{label} fails {rate:.0%} of the time at {hour:02d}:00 UTC ({len(failures)} failures on "
                        f"{len(days)} days) against {other:.0%} at other hours."
                        + (" Move it two hours later." if change else " Look at what else runs then.")
                    ),
                    evidence={
                        "hour_utc": hour,
                        "runs_at_hour": len(at),
                        "failures_at_hour": len(failures),
                        "days_with_failures": len(days),
                        "failure_rate_at_hour": round(rate, 4),
                        "failure_rate_other_hours": round(other, 4),
                        "days": WINDOW.days,
                    },
                    expected_gain=(
                        f"about {len(failures) - round(other * len(at))} fewer failures per 30 days if the hour is "
                        "the cause (its failures there beyond its rate at other hours)"
                    ),
                    gain={"failures_avoided": len(failures) - round(other * len(at))},
                    change=change,
                )
            )
    return found
