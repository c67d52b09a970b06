"""Dashboard figures, read from the hourly rollups (never a scan of the ledger).

Only the live counts (running, queued) look at the ledger, through its index of non-terminal rows.
A window of N hours is N hourly buckets, the current (partial) hour included: ``since =
floor_hour(now) - (N - 1) h``, ``until = now``. Every response says both, and rates, burn rate and
utilisation are over exactly that span, so a 24 h summary is the sum of the 24 hourly points.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import TruncDay
from django.utils import timezone

from agents.models import Agent
from executions.models import Execution, Status
from governance.access import get_business, is_agent, visible_businesses
from governance.models import Business
from governance.windows import zone
from mission_control.errors import DomainError
from observability.models import DailyRollup, HourlyRollup, cost_from_e8
from observability.rollups import HOUR, MAX_COLUMNS, floor_day, floor_hour
from workflows.selectors import cron_figures

MONEY = Decimal("1e-8")
_WINDOW = re.compile(r"^(\d{1,4})([mhd])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def money(value: Decimal) -> str:
    """USD as a decimal string with 8 places (never exponent notation)."""
    return format(Decimal(value).quantize(MONEY, rounding=ROUND_HALF_UP), "f")


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def parse_window(
    text: str | None,
    *,
    default: str,
    maximum: timedelta = timedelta(days=90),
    name: str = "window",
    minutes: bool = False,
) -> timedelta:
    """``"24h"``, ``"7d"`` (and ``"30m"`` where ``minutes``): rollup windows are whole hours."""
    match = _WINDOW.match((text or default).strip())
    if match and match.group(2) == "m" and not minutes:
        match = None
    value = match and int(match.group(1)) * _UNITS[match.group(2)]
    smallest = timedelta(minutes=1) if minutes else timedelta(hours=1)
    if not value or value < smallest or value > maximum:
        example = "30m, 24h or 7d" if minutes else "24h or 7d"
        message = f"Give a span like {example}, at most {maximum.days}d."
        raise DomainError("validation_error", f"{name}: {message}", fields={name: [message]})
    return value


@dataclass(frozen=True)
class Scope:
    """The businesses a dashboard covers: one (``business`` set), or all the caller sees."""

    business: Business | None
    business_ids: list[int] | None  # None: every business (a superuser with no filter)

    def filter(self, field: str = "business_id") -> Q:
        return Q() if self.business_ids is None else Q(**{f"{field}__in": self.business_ids})

    @property
    def tz_name(self) -> str:
        return self.business.timezone if self.business else "UTC"


def resolve_scope(user, slug: str | None) -> Scope:
    """404 for a business the caller cannot see; every visible one when ``slug`` is empty."""
    if slug:
        business = get_business(user, slug)
        return Scope(business=business, business_ids=[business.pk])
    if getattr(user, "is_superuser", False) and not is_agent(user):
        return Scope(business=None, business_ids=None)
    return Scope(business=None, business_ids=list(visible_businesses(user).values_list("pk", flat=True)))


def window_bounds(window: timedelta, now: datetime) -> tuple[datetime, datetime]:
    return floor_hour(now) - window + HOUR, now


# At the very top of an hour a 1 h window has lasted nothing yet: rates are over at least a second
# (they were a division by zero, a 500, at hh:00:00.000).
MIN_SPAN = timedelta(seconds=1)


def _span_hours(since: datetime, until: datetime) -> Decimal:
    return Decimal(max(until - since, MIN_SPAN).total_seconds()) / Decimal(3600)


def window_rows(
    scope: Scope,
    since: datetime,
    *,
    group: tuple[str, ...],
    fields: tuple[str, ...],
    now: datetime | None = None,
) -> dict:
    """The rollup counters over ``[since, now]`` per ``group`` key: ``{(key values): {field: value}}``.

    Whole UTC days are read from the daily rows (today's is kept current like the hourly ones),
    only the hours before the first midnight from the hourly rows: a 30-day window reads about
    30 rows per agent and model instead of 720. A window holding no whole day before today (24 h,
    say) reads only hourly rows, in one query; a longer one takes two.
    """
    first_day = floor_day(since) if since == floor_day(since) else floor_day(since) + timedelta(days=1)
    if first_day >= floor_day(now or timezone.now()):
        parts = [HourlyRollup.objects.filter(scope.filter(), hour__gte=since)]
    else:
        parts = [
            HourlyRollup.objects.filter(scope.filter(), hour__gte=since, hour__lt=first_day),
            DailyRollup.objects.filter(scope.filter(), day__gte=first_day),
        ]
        parts = parts if since < first_day else parts[1:]
    aggregates = {f: Max(f) if f in MAX_COLUMNS else Sum(f) for f in fields}
    merged: dict[tuple, dict] = {}
    for qs in parts:
        rows = (
            [qs.aggregate(**aggregates)] if not group else qs.values(*group).annotate(**aggregates).order_by()
        )
        for row in rows:
            key = tuple(row[g] for g in group)
            into = merged.setdefault(key, dict.fromkeys(fields, 0))
            for f in fields:
                value = row[f] or 0
                into[f] = max(into[f], value) if f in MAX_COLUMNS else into[f] + value
    if not group:
        merged.setdefault((), dict.fromkeys(fields, 0))
    return merged


def agent_counts(scope: Scope, now: datetime) -> dict:
    """Agents by the status shown everywhere: the agents app owns that rule (``with_live_status``)."""
    rows = (
        Agent.objects.filter(scope.filter())
        .with_live_status(now)
        .values("live_status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = dict.fromkeys(("idle", "active", "blocked", "offline"), 0)
    counts.update({row["live_status"]: row["n"] for row in rows})
    counts["total"] = sum(counts.values())
    return counts


def live_counts(scope: Scope) -> dict:
    """Running and queued executions now: a count over the ledger's index of non-terminal rows."""
    rows = (
        Execution.objects.filter(scope.filter(), status__in=(Status.PENDING, Status.RUNNING))
        .values("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    found = {row["status"]: row["n"] for row in rows}
    return {"running": found.get(Status.RUNNING, 0), "queued": found.get(Status.PENDING, 0)}


def summary(scope: Scope, *, window: timedelta, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    since, until = window_bounds(window, now)
    fields = (
        "executions",
        "success",
        "failed",
        "aborted",
        "cron_total",
        "cron_success",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "total_tokens",
        "cost_e8",
    )
    totals = window_rows(scope, since, group=(), fields=fields, now=now)[()]
    t = {k: v or 0 for k, v in totals.items()}
    cost = cost_from_e8(t["cost_e8"])
    cron = cron_figures(business_ids=scope.business_ids, since=since, until=until)
    return {
        "business": scope.business.slug if scope.business else None,
        "since": since,
        "until": until,
        "agents": agent_counts(scope, now),
        "executions": {
            **live_counts(scope),
            "finished": t["executions"],
            "succeeded": t["success"],
            "failed": t["failed"],
            "aborted": t["aborted"],
        },
        "success_rate": rate(t["success"], t["executions"]),
        "failure_rate": rate(t["failed"], t["executions"]),
        "tokens": {
            "input": t["input_tokens"],
            "output": t["output_tokens"],
            "cache_read": t["cache_read_tokens"],
            "total": t["total_tokens"],
        },
        "cost_usd": money(cost),
        "cost_burn_rate_usd_per_hour": money(cost / _span_hours(since, until)),
        # Executions a cron job started (retries included), and the cron runs themselves: "cron runs"
        # and "cron success" are the runs', the figures of the cron page and the calendar.
        "cron_executions": t["cron_total"],
        "cron_runs": cron["runs"],
        "cron_runs_succeeded": cron["succeeded"],
        "cron_success_rate": cron["success_rate"],
    }


def agent_table(scope: Scope, *, window: timedelta, now: datetime | None = None) -> dict:
    """A row per agent in scope (idle ones too), with figures over the window."""
    now = now or timezone.now()
    since, until = window_bounds(window, now)
    span_ms = Decimal(max(until - since, MIN_SPAN).total_seconds() * 1000)
    fields = (
        "executions",
        "success",
        "failed",
        "aborted",
        "duration_ms_sum",
        "duration_count",
        "duration_ms_max",
        "total_tokens",
        "cost_e8",
        "busy_ms",
    )
    figures = {
        key[0]: row
        for key, row in window_rows(scope, since, group=("agent_id",), fields=fields, now=now).items()
    }
    rows = []
    for agent in (
        Agent.objects.filter(scope.filter())
        .with_live_status(now)
        .select_related("business")
        .order_by("name", "pk")
    ):
        f = figures.get(agent.pk, {})
        executions = f.get("executions") or 0
        busy = Decimal(f.get("busy_ms") or 0)
        capacity = span_ms * max(agent.scale, 1)
        rows.append(
            {
                "agent": agent.pk,
                "name": agent.name,
                "business": agent.business.slug,
                "status": agent.effective_status(now),
                "running": agent.running_count(),
                "executions": executions,
                "succeeded": f.get("success") or 0,
                "failed": f.get("failed") or 0,
                "aborted": f.get("aborted") or 0,
                "avg_duration_ms": average(f.get("duration_ms_sum"), f.get("duration_count")),
                "max_duration_ms": f.get("duration_ms_max") if f.get("duration_count") else None,
                "failure_rate": rate(f.get("failed") or 0, executions),
                "tokens": f.get("total_tokens") or 0,
                "cost_usd": money(cost_from_e8(f.get("cost_e8"))),
                "busy_ms": int(busy),
                "utilization_pct": float(min(Decimal(100), busy * 100 / capacity).quantize(Decimal("0.01"))),
            }
        )
    return {
        "business": scope.business.slug if scope.business else None,
        "since": since,
        "until": until,
        "results": rows,
    }


def average(total, count) -> int | None:
    if not count:
        return None
    return int((Decimal(total) / Decimal(count)).to_integral_value(rounding=ROUND_HALF_UP))


def cost_series(
    scope: Scope, *, window: timedelta, bucket: str, group_by: str | None, now: datetime | None = None
) -> dict:
    """Cost (with executions and tokens) per hour or per day, one series per agent, model, or in all.

    Days are the business's own days when one business is asked for, UTC days otherwise.
    """
    now = now or timezone.now()
    tz = zone(scope.tz_name)
    if bucket == "day":
        days = -(-window // timedelta(days=1))  # a started day is a bucket
        midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        since = _add_days(midnight, 1 - days)
        step = timedelta(days=1)
    else:
        since, _ = window_bounds(window, now)
        step = HOUR
    key = {"agent": "agent_id", "model": "model"}.get(group_by or "")
    if bucket == "hour":
        qs, ts = HourlyRollup.objects.filter(scope.filter(), hour__gte=since), F("hour")
    elif since.utcoffset() == now.astimezone(tz).utcoffset() == timedelta(0):
        # Local days are UTC days: one daily row per agent and model and day.
        qs, ts = DailyRollup.objects.filter(scope.filter(), day__gte=since), F("day")
    else:  # a zone's days cut UTC hours, not UTC days: fold the hourly rows
        qs, ts = HourlyRollup.objects.filter(scope.filter(), hour__gte=since), TruncDay("hour", tzinfo=tz)
    grouped = qs.annotate(ts=ts).values("ts", *([key] if key else []))
    grouped = grouped.annotate(
        cost_e8=Sum("cost_e8"), executions=Sum("executions"), tokens=Sum("total_tokens")
    )
    points: dict[str, dict] = {}
    for row in grouped.order_by():
        series_key = str(row[key]) if key else "total"
        moment = row["ts"].astimezone(tz) if bucket == "day" else row["ts"]
        points.setdefault(series_key, {})[moment.isoformat()] = row
    labels = {}
    if key == "agent_id":
        ids = [int(k) for k in points]
        labels = {str(pk): name for pk, name in Agent.objects.filter(pk__in=ids).values_list("pk", "name")}
    stamps = [
        (stamp.isoformat(), _iso(stamp))
        for stamp in _bucket_starts(since, now, step, tz if bucket == "day" else None)
    ]
    series, grand = [], 0
    for series_key in sorted(points, key=lambda k: (labels.get(k, k), k)):
        found = points[series_key]
        total = sum(r["cost_e8"] or 0 for r in found.values())
        grand += total
        entry = {"key": series_key, "label": labels.get(series_key, series_key or "(no model)")}
        if key == "agent_id":
            entry["agent"] = int(series_key)
        entry["total_usd"] = money(cost_from_e8(total))
        entry["points"] = [_point(text, found.get(key_text)) for key_text, text in stamps]
        series.append(entry)
    return {
        "business": scope.business.slug if scope.business else None,
        "bucket": bucket,
        "group_by": group_by,
        "timezone": str(tz),
        "since": since,
        "until": now,
        "total_usd": money(cost_from_e8(grand)),
        "series": series,
    }


def _bucket_starts(since: datetime, until: datetime, step: timedelta, tz) -> list[datetime]:
    stamps, cursor = [], since
    while cursor <= until:
        stamps.append(cursor)
        cursor = cursor + step if tz is None else _add_days(cursor, 1)
    return stamps


def _add_days(local_midnight: datetime, days: int) -> datetime:
    """Calendar days in the zone (23 or 25 hours across a DST change): wall-clock arithmetic."""
    moved = local_midnight + timedelta(days=days)
    return moved.replace(tzinfo=local_midnight.tzinfo)


def _iso(moment: datetime) -> str:
    """As the API renders times (UTC as ``Z``), once per bucket rather than once per point."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_ZERO = {"cost_usd": money(Decimal(0)), "executions": 0, "tokens": 0}


def _point(stamp: str, row: dict | None) -> dict:
    if row is None:
        return {"ts": stamp, **_ZERO}
    return {
        "ts": stamp,
        "cost_usd": money(cost_from_e8(row.get("cost_e8"))),
        "executions": row.get("executions") or 0,
        "tokens": row.get("tokens") or 0,
    }
