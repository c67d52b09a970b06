"""The invariants a fault campaign checks in the database afterwards, each computed from first
principles (the ledger, the events, the schedules), not by asking the code under test.

Each check returns ``(ok, figure)``: the figure is what the table prints beside ok/FAIL.
"""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from executions.models import TERMINAL, Execution, Status
from governance.models import BudgetReservation, BudgetWindow, ReservationLine, ReservationStatus
from mission_control.models import Event
from workflows import schedules
from workflows.models import CronJob, CronRun

ZERO = Decimal(0)
MICRO = Decimal("0.000001")


def started_once(business_id: int) -> tuple[bool, str]:
    """No execution claimed or started twice: at most one ``execution.started`` event each."""
    twice = (
        Event.objects.filter(business_id=business_id, kind="execution.started")
        .values("execution_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    started = Event.objects.filter(business_id=business_id, kind="execution.started").count()
    bad = list(twice.values_list("execution_id", flat=True)[:10])
    return not bad, f"{started} starts, {len(bad)} started twice {bad or ''}".strip()


def pushed_once(deliveries: dict[int, list[dict]]) -> tuple[bool, str]:
    """A push agent never gets the same execution as new work twice: every resend says so."""
    resent = sum(len(d) - 1 for d in deliveries.values())
    unmarked = [pk for pk, d in deliveries.items() if any(not x["redelivery"] for x in d[1:])]
    delays = [d[1]["at"] - d[0]["at"] for d in deliveries.values() if len(d) > 1]
    after = f" (sent again after {min(delays):.0f}-{max(delays):.0f} s)" if delays else ""
    return (
        not unmarked,
        f"{len(deliveries)} pushed, {resent} resends{after}, {len(unmarked)} not marked redelivery",
    )


def none_past_deadline(business_id: int, slack_s: int) -> tuple[bool, str]:
    """Nothing is left running past its deadline (plus the sweep's period), nor without one."""
    now = timezone.now()
    running = Execution.objects.filter(business_id=business_id, status=Status.RUNNING)
    late = running.filter(deadline_at__lt=now - timedelta(seconds=slack_s)).count()
    silent = sum(
        1
        for row in running.exclude(heartbeat_timeout_s__isnull=True)
        if row.last_seen_at and now - row.last_seen_at > timedelta(seconds=row.heartbeat_timeout_s + slack_s)
    )
    undated = running.filter(deadline_at__isnull=True).count()
    pending = Execution.objects.filter(business_id=business_id, status=Status.PENDING).count()
    figure = f"{running.count()} running, {pending} pending; {late} past deadline, {silent} silent, {undated} undated"
    return late == silent == undated == 0, figure


def budgets_whole(business_id: int) -> tuple[bool, str]:
    """Per window: reserved = the holds of live work, spent = the ledger's cost of the work that
    began in it (every budget here existed before any work), and no hold outlives its execution."""
    problems = []
    windows = BudgetWindow.objects.filter(budget__business_id=business_id).select_related("budget")
    live_ids = set(
        Execution.objects.filter(business_id=business_id)
        .exclude(status__in=TERMINAL)
        .values_list("pk", flat=True)
    )
    holds = BudgetReservation.objects.filter(business_id=business_id, status=ReservationStatus.RESERVED)
    leaked = [
        r.ref for r in holds if r.ref.startswith("execution:") and int(r.ref.split(":")[1]) not in live_ids
    ]
    if leaked:
        problems.append(f"{len(leaked)} leaked holds {leaked[:5]}")
    for window in windows:
        live = (
            ReservationLine.objects.filter(
                window=window, reservation__status=ReservationStatus.RESERVED
            ).aggregate(s=Sum("amount_usd"))["s"]
            or ZERO
        )
        budget = window.budget
        ledger = Execution.objects.filter(
            business_id=business_id,
            status__in=TERMINAL,
            created_at__gte=window.window_start,
            created_at__lt=window.window_end,
        )
        if budget.agent_id:
            ledger = ledger.filter(agent_id=budget.agent_id)
        if budget.model:
            ledger = ledger.filter(model__iexact=budget.model)
        # Budgets book each execution's cost to the micro-dollar (the ledger keeps 8 places).
        spent = sum((c.quantize(MICRO) for c in ledger.values_list("cost_usd", flat=True)), ZERO)
        if window.reserved_usd != live:
            problems.append(f"window {window.pk}: reserved {window.reserved_usd} vs live holds {live}")
        if window.spent_usd != spent:
            problems.append(f"window {window.pk}: spent {window.spent_usd} vs ledger {spent}")
    total = BudgetWindow.objects.filter(
        budget__business_id=business_id, budget__agent_id__isnull=True
    ).aggregate(r=Sum("reserved_usd"), s=Sum("spent_usd"))
    figure = f"{windows.count()} windows; business reserved ${total['r'] or 0}, spent ${total['s'] or 0}"
    return not problems, figure + ("; " + "; ".join(problems[:4]) if problems else "")


def cron_slots_once(business_id: int, until) -> tuple[bool, str]:
    """Every slot of every job from its start to ``until`` has exactly one run row (fired,
    queued, skipped, refused or missed), or is counted in a backlog summary event; and no slot got
    two ``cron.triggered`` or two ``cron.missed`` events."""
    problems, slots_total = [], 0
    outcome: Counter = Counter()
    for job in CronJob.objects.filter(business_id=business_id):
        expected, _ = schedules.between(job.schedule, job.timezone, job.active_since, until, limit=100_000)
        runs = dict(CronRun.objects.filter(cron_job=job, manual=False).values_list("scheduled_for", "status"))
        summarised = sum(
            e.data.get("slots", 0)
            for e in Event.objects.filter(kind="cron.missed", data__cron_job=job.pk, data__summary=True)
        )
        gaps = [s for s in expected if s not in runs]
        slots_total += len(expected)
        outcome.update(runs[s] for s in expected if s in runs)
        if len(gaps) > summarised:
            problems.append(
                f"{job.name}: {len(gaps) - summarised} slot(s) unaccounted, first {gaps[0]:%H:%M}"
            )
        for kind in ("cron.triggered", "cron.missed"):
            dup = (
                Event.objects.filter(kind=kind, data__cron_job=job.pk)
                .exclude(data__summary=True)
                .exclude(data__manual=True)
                .values("data__scheduled_for")
                .annotate(n=Count("id"))
                .filter(n__gt=1)
                .count()
            )
            if dup:
                problems.append(f"{job.name}: {dup} slot(s) with two {kind}")
    figure = f"{slots_total} slots: " + ", ".join(f"{k} {v}" for k, v in sorted(outcome.items()))
    return not problems, figure + ("; " + "; ".join(problems) if problems else "")


def rollups_match(business_id: int) -> tuple[bool, str]:
    """Rollups equal the ledger: the live rows (after the catch-up sweep's pass) against a rebuild."""
    from observability import rollups
    from observability.models import DailyRollup, HourlyRollup
    from observability.rebuild import rebuild

    caught_up = rollups.catch_up(settle=timedelta(0))

    def snapshot():
        keys = rollups.HOURLY_KEYS
        counters = rollups.HOURLY_COUNTERS
        hourly = {
            tuple(r[k] for k in keys): tuple(r[c] for c in counters)
            for r in HourlyRollup.objects.filter(business_id=business_id).values(*keys, *counters)
        }
        names = {f.name for f in DailyRollup._meta.get_fields()}
        day_counters = [c for c in counters if c in names]
        daily = {
            tuple(r[k] for k in rollups.DAILY_KEYS): tuple(r[c] for c in day_counters)
            for r in DailyRollup.objects.filter(business_id=business_id).values(
                *rollups.DAILY_KEYS, *day_counters
            )
        }
        return hourly, daily

    live = snapshot()
    counted = rebuild(business_ids=[business_id])
    rebuilt = snapshot()
    differ = [k for k in set(live[0]) | set(rebuilt[0]) if live[0].get(k) != rebuilt[0].get(k)]
    differ += [k for k in set(live[1]) | set(rebuilt[1]) if live[1].get(k) != rebuilt[1].get(k)]
    figure = f"{counted} executions; {caught_up} caught up by the sweep; {len(differ)} rows differ"
    return not differ, figure


def ledger_summary(business_id: int) -> str:
    counts = dict(
        Execution.objects.filter(business_id=business_id)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    reconciled = Event.objects.filter(business_id=business_id, kind="budget.reconciled").count()
    timeouts = (
        Execution.objects.filter(business_id=business_id)
        .filter(Q(error_type="timeout") | Q(error_type="heartbeat_timeout"))
        .count()
    )
    return (
        ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        + f"; failed by a deadline {timeouts}; budget repairs by the sweep {reconciled}"
    )
