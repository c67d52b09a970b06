"""Hourly rollups of the ledger: the only thing dashboards read.

An execution is counted exactly once: :func:`roll_up_rows` inserts its ``RolledUpExecution`` marker
(``ON CONFLICT DO NOTHING RETURNING``) and adds its figures (``INSERT ... ON CONFLICT DO UPDATE SET
col = col + EXCLUDED.col``) in one transaction, and only for the executions whose marker it just
inserted. The receiver, the catch-up sweep and a rebuild all go through it, so any of them may run
at any time, any number of times.

Counts, durations, tokens and cost land in the UTC hour the execution finished; busy time is split
over every hour it was running, so utilisation over a window is exact.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from executions.models import TERMINAL, Execution, Trigger
from observability.models import (
    DURATION_BUCKETS_S,
    DailyRollup,
    HourlyRollup,
    LifetimeRollup,
    RolledUpExecution,
    RollupCursor,
    SourceKind,
    SourceRollup,
    cost_to_e8,
)

HOUR = timedelta(hours=1)
# Busy time of an execution that ran for longer than this is only kept for its last stretch:
# a row stuck "running" for a year must not write 8,760 rollup rows.
MAX_BUSY_SPAN = timedelta(days=90)
_LOCK_KEY = 7_300_001  # PostgreSQL advisory lock: rebuild (exclusive) vs. roll-ups (shared)

FIELDS = (
    "id",
    "business_id",
    "agent_id",
    "model",
    "status",
    "trigger",
    "created_at",
    "started_at",
    "finished_at",
    "duration_ms",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "total_tokens",
    "cost_usd",
    "cron_job_id",
    "workflow_run_id",
    "workflow_step",
)

HOURLY_KEYS = ("business_id", "agent_id", "model", "hour")
DAILY_KEYS = ("business_id", "agent_id", "model", "day")
SOURCE_KEYS = ("business_id", "kind", "key", "hour")
COMMON = (
    "executions",
    "success",
    "failed",
    "aborted",
    "duration_ms_sum",
    "duration_ms_max",
    "duration_count",
)
HOURLY_COUNTERS = (
    *COMMON,
    "cron_total",
    "cron_success",
    "wait_ms_sum",
    "wait_count",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "total_tokens",
    "cost_e8",
    "busy_ms",
)
SOURCE_COUNTERS = (*COMMON, "cost_e8")
LIFETIME_KEYS = ("business_id", "agent_id", "model", "status")
BUCKET_COLUMNS = tuple(f"le_{bound}" for bound in DURATION_BUCKETS_S)
LIFETIME_COUNTERS = (
    "executions",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "total_tokens",
    "cost_e8",
    "duration_ms_sum",
    "duration_count",
    *BUCKET_COLUMNS,
)
MAX_COLUMNS = {"duration_ms_max"}


def floor_hour(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def floor_day(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_HOUR_US = HOUR // _MICROSECOND
_MAX_BUSY_US = MAX_BUSY_SPAN // _MICROSECOND


def _us(dt: datetime) -> int:
    """Whole microseconds since the epoch (exact, unlike ``timestamp()``'s float)."""
    return (dt - _EPOCH) // _MICROSECOND


def _epoch_ms(dt: datetime) -> int:
    return _us(dt) // 1000


def _busy_parts(begin: int | None, end: int | None, given) -> list[tuple[int, int]]:
    """``[(hour number since the epoch, ms)]`` an execution was busy, from epoch microseconds: from
    its start to its end, else its reported duration up to its end; only the last
    ``MAX_BUSY_SPAN`` of it. The parts add up to the whole, to the millisecond."""
    if begin is not None and end is not None and end > begin:
        cursor = begin
    elif end is not None and given:
        cursor = end - int(given) * 1000
    else:
        return []
    cursor = max(cursor, end - _MAX_BUSY_US)
    parts = []
    while cursor < end:
        number = cursor // _HOUR_US
        edge = min((number + 1) * _HOUR_US, end)
        parts.append((number, edge // 1000 - cursor // 1000))
        cursor = edge
    return parts


def bucket_time(row: dict) -> datetime:
    return row["finished_at"] or row["started_at"] or row["created_at"]


def _duration_ms(row: dict) -> int | None:
    if row["duration_ms"] is not None:
        return max(0, int(row["duration_ms"]))
    if row["started_at"] and row["finished_at"]:
        return max(0, _epoch_ms(row["finished_at"]) - _epoch_ms(row["started_at"]))
    return None


def contributions(rows: Iterable[dict], *, min_hour: datetime | None = None, step_keys=None):
    """Aggregate terminal ledger rows into ``({hourly key: counters}, {source key: counters})``.

    ``min_hour`` drops every part that falls before it (a partial rebuild keeps older hours).
    Times are worked in whole microseconds since the epoch (a batch's thousand rows, each timed
    several ways): busy time by :func:`_busy_parts`, the rest in the UTC hour of
    :func:`bucket_time`, durations as :func:`_duration_ms`.
    """
    hourly: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(HOURLY_COUNTERS, 0))
    sources: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(SOURCE_COUNTERS, 0))
    step_keys = step_keys or {}
    hours: dict[int, datetime] = {}  # hour number since the epoch -> its start, made once

    def hour_at(number: int) -> datetime:
        start = hours.get(number)
        if start is None:
            start = hours[number] = _EPOCH + HOUR * number
        return start

    for row in rows:
        base = (row["business_id"], row["agent_id"], row["model"] or "")
        started, finished, given = row["started_at"], row["finished_at"], row["duration_ms"]
        begin = _us(started) if started else None
        end = _us(finished) if finished else None
        for number, ms in _busy_parts(begin, end, given):
            hour = hour_at(number)
            if min_hour is None or hour >= min_hour:
                hourly[(*base, hour)]["busy_ms"] += ms
        at = end if end is not None else begin if begin is not None else _us(row["created_at"])
        hour = hour_at(at // _HOUR_US)
        if min_hour is not None and hour < min_hour:
            continue
        if given is not None:
            duration = max(0, int(given))
        elif begin is not None and end is not None:
            duration = max(0, end // 1000 - begin // 1000)
        else:
            duration = None
        cost = cost_to_e8(row["cost_usd"])
        bucket = hourly[(*base, hour)]
        _count(bucket, row["status"], duration, cost)
        if row["trigger"] == Trigger.CRON:
            bucket["cron_total"] += 1
            bucket["cron_success"] += row["status"] == "success"
        if started and started >= row["created_at"]:
            bucket["wait_ms_sum"] += begin // 1000 - _us(row["created_at"]) // 1000
            bucket["wait_count"] += 1
        for name in ("input_tokens", "output_tokens", "cache_read_tokens", "total_tokens"):
            bucket[name] += row[name] or 0
        if row["cron_job_id"] is not None or row["workflow_step"]:
            for key in _source_keys(row, step_keys):
                _count(sources[(row["business_id"], *key, hour)], row["status"], duration, cost)
    return hourly, sources


def lifetime(rows: Iterable[dict]) -> dict[tuple, dict]:
    """Terminal rows added up per business, agent, model and status, with their duration buckets."""
    totals: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(LIFETIME_COUNTERS, 0))
    for row in rows:
        bucket = totals[(row["business_id"], row["agent_id"], row["model"] or "", row["status"])]
        bucket["executions"] += 1
        for name in ("input_tokens", "output_tokens", "cache_read_tokens", "total_tokens"):
            bucket[name] += row[name] or 0
        bucket["cost_e8"] += cost_to_e8(row["cost_usd"])
        duration = _duration_ms(row)
        if duration is not None:
            bucket["duration_ms_sum"] += duration
            bucket["duration_count"] += 1
            for bound, column in zip(DURATION_BUCKETS_S, BUCKET_COLUMNS, strict=True):
                if duration <= bound * 1000:
                    bucket[column] += 1
                    break
    return totals


def _count(bucket: dict, status: str, duration: int | None, cost_e8: int) -> None:
    bucket["executions"] += 1
    if status in bucket:
        bucket[status] += 1
    if duration is not None:
        bucket["duration_ms_sum"] += duration
        if duration > bucket["duration_ms_max"]:
            bucket["duration_ms_max"] = duration
        bucket["duration_count"] += 1
    bucket["cost_e8"] += cost_e8


def _source_keys(row: dict, step_keys: dict) -> list[tuple[str, str]]:
    keys = []
    if row["cron_job_id"] is not None:
        keys.append((SourceKind.CRON, str(row["cron_job_id"])))
    if row["workflow_step"]:
        keys.append((SourceKind.STEP, step_key(step_keys.get(row["workflow_run_id"]), row["workflow_step"])))
    return keys


def step_key(workflow_id, step: str) -> str:
    """A workflow step is named by its workflow and its id there: ``"<workflow id>:<step id>"``."""
    return f"{workflow_id or ''}:{step}"[:120]


def workflow_run_model():
    """The workflows app's run model, when installed and it names its workflow (else None)."""
    from django.apps import apps
    from django.core.exceptions import FieldDoesNotExist

    try:
        run_model = apps.get_model("workflows", "WorkflowRun")
        run_model._meta.get_field("workflow")
    except (LookupError, FieldDoesNotExist):
        return None
    return run_model


def _workflow_ids(rows: list[dict]) -> dict:
    """Run id -> workflow id, so a step is known by its workflow too."""
    run_ids = {r["workflow_run_id"] for r in rows if r["workflow_step"] and r["workflow_run_id"]}
    run_model = workflow_run_model() if run_ids else None
    if run_model is None:
        return {}
    return dict(run_model.objects.filter(pk__in=run_ids).values_list("pk", "workflow_id"))


# --- writing ---------------------------------------------------------------------------------------


def _lock(shared: bool) -> None:
    if connection.vendor == "postgresql":
        fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {fn}(%s)", [_LOCK_KEY])


def _claim(ids: list[int]) -> set[int]:
    """Insert markers; return the ids whose marker is new (not yet counted)."""
    claimed: set[int] = set()
    table = RolledUpExecution._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array parameter: psycopg's client-side binding of thousands of %s is the slow part.
            cursor.execute(
                f"INSERT INTO {table} (execution_id) SELECT unnest(%s::bigint[]) "
                "ON CONFLICT (execution_id) DO NOTHING RETURNING execution_id",
                [ids],
            )
            return {row[0] for row in cursor.fetchall()}
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            values = ", ".join(["(%s)"] * len(chunk))
            # Only placeholders and our own table name are interpolated; the ids are parameters.
            cursor.execute(
                f"INSERT INTO {table} (execution_id) VALUES {values} "  # noqa: S608
                "ON CONFLICT (execution_id) DO NOTHING RETURNING execution_id",
                chunk,
            )
            claimed.update(row[0] for row in cursor.fetchall())
    return claimed


_PG_TYPES = {
    "model": "text",
    "kind": "text",
    "key": "text",
    "status": "text",
    "hour": "timestamptz",
    "day": "timestamptz",
}


def _upsert(model, keys: tuple[str, ...], counters: tuple[str, ...], rows: dict[tuple, dict]) -> None:
    """Add ``rows`` to the table in place (``col = col + EXCLUDED.col``), atomic per row."""
    if not rows:
        return
    table = model._meta.db_table
    postgres = connection.vendor == "postgresql"
    columns = (*keys, *counters)
    updates = ", ".join(
        f"{c} = {'GREATEST' if postgres else 'MAX'}({table}.{c}, EXCLUDED.{c})"
        if c in MAX_COLUMNS
        else f"{c} = {table}.{c} + EXCLUDED.{c}"
        for c in counters
    )
    conflict = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    items = sorted(rows.items(), key=lambda kv: tuple(str(part) for part in kv[0]))  # fixed lock order
    with connection.cursor() as cursor:
        if postgres:
            # One array per column, unnested server side: a few parameters whatever the batch.
            arrays = [[key[i] for key, _ in items] for i in range(len(keys))]
            arrays += [[values[c] for _, values in items] for c in counters]
            casts = ", ".join(f"%s::{_PG_TYPES.get(c, 'bigint')}[]" for c in columns)
            cursor.execute(  # identifiers come from the model, every value is a parameter
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({casts}) {conflict}",  # noqa: S608
                arrays,
            )
            return
        adapt = connection.ops.adapt_datetimefield_value
        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            params: list = []
            for key, values in chunk:
                last = key[-1]
                params.extend((*key[:-1], adapt(last) if isinstance(last, datetime) else last))
                params.extend(values[c] for c in counters)
            row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
            cursor.execute(  # identifiers come from the model, every value is a parameter
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row_sql] * len(chunk))} {conflict}",  # noqa: S608
                params,
            )


def daily(hourly: dict[tuple, dict]) -> dict[tuple, dict]:
    """The hourly contributions folded into UTC days (sums, and the max of maxima)."""
    days: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(HOURLY_COUNTERS, 0))
    for (business_id, agent_id, model, hour), values in hourly.items():
        bucket = days[(business_id, agent_id, model, floor_day(hour))]
        for name, value in values.items():
            bucket[name] = max(bucket[name], value) if name in MAX_COLUMNS else bucket[name] + value
    return days


def roll_up_rows(rows: list[dict], *, min_hour: datetime | None = None) -> int:
    """Count the terminal ``rows`` (dicts of :data:`FIELDS`) not counted yet; return how many were."""
    rows = [r for r in rows if r["status"] in TERMINAL]
    if not rows:
        return 0
    with transaction.atomic():
        _lock(shared=True)
        claimed = _claim([r["id"] for r in rows])
        fresh = [r for r in rows if r["id"] in claimed]
        hourly, sources = contributions(fresh, min_hour=min_hour, step_keys=_workflow_ids(fresh))
        _upsert(HourlyRollup, HOURLY_KEYS, HOURLY_COUNTERS, hourly)
        _upsert(DailyRollup, DAILY_KEYS, HOURLY_COUNTERS, daily(hourly))
        _upsert(SourceRollup, SOURCE_KEYS, SOURCE_COUNTERS, sources)
        _upsert(LifetimeRollup, LIFETIME_KEYS, LIFETIME_COUNTERS, lifetime(fresh))
    return len(fresh)


def roll_up_execution(execution_id: int) -> bool:
    """Count one execution (when terminal and not counted yet). Safe to call any number of times."""
    rows = list(Execution.objects.filter(pk=execution_id, status__in=TERMINAL).values(*FIELDS))
    return roll_up_rows(rows) == 1


def roll_up_ended(execution: Execution) -> bool:
    """:func:`roll_up_execution` for a row its caller has just ended and committed, counted from
    the instance instead of read back: a terminal row never changes (a later cost correction
    lives beside it and is counted apart), so its committed fields are the ones in hand."""
    return roll_up_rows([{name: getattr(execution, name) for name in FIELDS}]) == 1


def catch_up(*, batch: int = 5000, max_rows: int = 200_000, settle: timedelta = timedelta(minutes=10)) -> int:
    """Count terminal executions that no receiver counted (a crash, downtime). Resumes from a cursor:
    it scans only ids it has not passed plus the ones still open then, at most ``max_rows``.

    An id is taken when a row is inserted but the row is seen when its transaction commits, and a
    reported row's times are the agent's (a batch of last week's work): so the cursor trusts no
    row's time. Each sweep notes the highest id it saw and when; once a note is ``settle`` old
    (longer than any transaction of ours stays open), every lower id is committed or gone for good,
    and the cursor may pass them.
    """
    cursor, _ = RollupCursor.objects.get_or_create(name="ledger")
    now = timezone.now()
    counted = 0
    still_open: set[int] = set()
    open_ids = sorted(set(cursor.open_ids))
    for start in range(0, len(open_ids), batch):
        rows = list(Execution.objects.filter(pk__in=open_ids[start : start + batch]).values(*FIELDS))
        counted += roll_up_rows(rows)
        still_open.update(r["id"] for r in rows if r["status"] not in TERMINAL)
    marks = [(datetime.fromisoformat(at), int(seen)) for at, seen in cursor.marks]
    safe = max((seen for at, seen in marks if at <= now - settle), default=cursor.next_id - 1)
    next_id, scanned, last, ended = cursor.next_id, 0, cursor.next_id - 1, False
    while scanned < max_rows:
        rows = list(Execution.objects.filter(pk__gte=next_id).order_by("pk").values(*FIELDS)[:batch])
        if not rows:
            ended = True
            break
        counted += roll_up_rows(rows)
        scanned += len(rows)
        still_open.update(r["id"] for r in rows if r["id"] <= safe and r["status"] not in TERMINAL)
        last = next_id = rows[-1]["id"]
        next_id += 1
    # Pass every settled id this sweep has seen all of: up to ``safe``, or where ``max_rows`` stopped.
    reach = safe if ended or last >= safe else last
    cursor.next_id = max(cursor.next_id, reach + 1)
    marks = [(at, seen) for at, seen in marks if seen >= cursor.next_id]
    if last >= cursor.next_id:
        marks.append((now, last))
    cursor.marks = [[at.isoformat(), seen] for at, seen in marks[-20:]]
    cursor.open_ids = sorted(still_open)
    cursor.updated_at = now
    cursor.save(update_fields=["next_id", "open_ids", "marks", "updated_at"])
    return counted
