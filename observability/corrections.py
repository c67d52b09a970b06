"""Cost corrections in the rollups, so the dashboards show the cost the explorer and the export show.

A terminal execution never changes; a later, better cost is a ``CostCorrection`` beside it, and
the cost that counts is the latest correction's. The rollups add up each execution's own
``cost_usd`` when it finishes, and each correction adds its difference to the previous cost (the
previous correction's, or the row's own) to the hour, day and sources its execution counts in.
Additions commute, so the order of roll-up and correction does not matter, and a marker per
correction (inserted in the same transaction, like the executions' markers) applies each once
whoever gets there: the receiver, the catch-up sweep or a rebuild.
"""

from collections import defaultdict

from django.db import connection, transaction

from executions.models import CostCorrection, Execution
from observability.models import (
    DailyRollup,
    HourlyRollup,
    LifetimeRollup,
    RolledUpCorrection,
    SourceRollup,
    cost_to_e8,
)
from observability.rollups import (
    DAILY_KEYS,
    HOURLY_COUNTERS,
    HOURLY_KEYS,
    LIFETIME_COUNTERS,
    LIFETIME_KEYS,
    SOURCE_COUNTERS,
    SOURCE_KEYS,
    _lock,
    _source_keys,
    _upsert,
    _workflow_ids,
    bucket_time,
    daily,
    floor_hour,
)


def _claim(ids: list[int]) -> set[int]:
    table = RolledUpCorrection._meta.db_table
    claimed: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            values = ", ".join(["(%s)"] * len(chunk))
            cursor.execute(  # our own table name and placeholders only; the ids are parameters
                f"INSERT INTO {table} (correction_id) VALUES {values} "  # noqa: S608
                "ON CONFLICT (correction_id) DO NOTHING RETURNING correction_id",
                chunk,
            )
            claimed.update(row[0] for row in cursor.fetchall())
    return claimed


def apply_corrections(correction_ids: list[int]) -> int:
    """Add the corrections not applied yet to the rollups; return how many were. Safe to repeat."""
    if not correction_ids:
        return 0
    with transaction.atomic():
        _lock(shared=True)
        claimed = sorted(_claim(sorted(set(correction_ids))))
        if not claimed:
            return 0
        corrections = list(
            CostCorrection.objects.filter(pk__in=claimed).values("pk", "execution_id", "cost_usd")
        )
        execution_ids = {c["execution_id"] for c in corrections}
        rows = {r["id"]: r for r in Execution.objects.filter(pk__in=execution_ids).values(*_FIELDS)}
        # The cost each correction replaces: the one before it for the same execution, else the row's.
        earlier = defaultdict(list)
        for c in CostCorrection.objects.filter(execution_id__in=execution_ids).order_by("pk"):
            earlier[c.execution_id].append((c.pk, c.cost_usd))
        hourly: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(HOURLY_COUNTERS, 0))
        sources: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(SOURCE_COUNTERS, 0))
        totals: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(LIFETIME_COUNTERS, 0))
        step_keys = _workflow_ids(list(rows.values()))
        for c in corrections:
            row = rows[c["execution_id"]]
            before = [cost for pk, cost in earlier[c["execution_id"]] if pk < c["pk"]]
            delta = cost_to_e8(c["cost_usd"]) - cost_to_e8(before[-1] if before else row["cost_usd"])
            hour = floor_hour(bucket_time(row))
            hourly[(row["business_id"], row["agent_id"], row["model"] or "", hour)]["cost_e8"] += delta
            for key in _source_keys(row, step_keys):
                sources[(row["business_id"], *key, hour)]["cost_e8"] += delta
            totals[(row["business_id"], row["agent_id"], row["model"] or "", row["status"])]["cost_e8"] += (
                delta
            )
        _upsert(HourlyRollup, HOURLY_KEYS, HOURLY_COUNTERS, hourly)
        _upsert(DailyRollup, DAILY_KEYS, HOURLY_COUNTERS, daily(hourly))
        _upsert(SourceRollup, SOURCE_KEYS, SOURCE_COUNTERS, sources)
        _upsert(LifetimeRollup, LIFETIME_KEYS, LIFETIME_COUNTERS, totals)
    return len(claimed)


_FIELDS = (
    "id",
    "business_id",
    "agent_id",
    "model",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "cost_usd",
    "cron_job_id",
    "workflow_run_id",
    "workflow_step",
)


def catch_up_corrections() -> int:
    """Apply every correction no receiver applied (a crash): corrections are few, so all are looked at."""
    pending = CostCorrection.objects.exclude(
        pk__in=RolledUpCorrection.objects.values("correction_id")
    ).values_list("pk", flat=True)
    return apply_corrections(list(pending))
