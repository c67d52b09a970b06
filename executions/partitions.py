"""The ledger's monthly partitions (PostgreSQL; on SQLite every function here is a no-op).

``executions_execution`` is partitioned by ``RANGE (created_at)`` and ``executions_executionlog``
by ``RANGE (execution_created_at)``, one partition a month, the same months for both, named
``<table>_y2027m01``. The first partition, ``<table>_history``, is the table as it was before
partitioning (``FROM (MINVALUE)``: everything before the first monthly one). Design and figures:
docs/ledger-partitioning.md.

- :func:`ensure_partitions` (the beat sweep ``executions.ensure_partitions``) makes the current
  month and the next three if missing: idempotent, and three months of slack if beat stops.
- :func:`admit` is asked before an execution row is written: a month that has no partition yet
  gets one (a clock moved far ahead), a month older than every partition is archived and the
  write is refused with 409 ``month_archived``. It answers from a per-process cache of the
  months that exist, so the usual write costs no query.
- Each partition carries its own ``BEFORE TRUNCATE`` trigger (PostgreSQL does not clone
  statement triggers); the row triggers refusing UPDATE/DELETE are declared on the parents and
  cloned by PostgreSQL onto every partition.
"""

import re
from datetime import UTC, datetime

from django.db import connection, transaction

from mission_control.errors import DomainError

# (parent table, partition key)
LEDGER = (("executions_execution", "created_at"), ("executions_executionlog", "execution_created_at"))
AHEAD = 3  # months made ahead of the current one
LOCK_KEY = 190_003  # pg_advisory_xact_lock: one partition maker at a time

_BOUND = re.compile(r"FROM \((MINVALUE|'[^']+')\) TO \((MAXVALUE|'[^']+')\)")
_months: list[tuple[datetime | None, datetime]] | None = None  # cached (lower, upper) of executions


def enabled() -> bool:
    return connection.vendor == "postgresql"


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def add_months(month: datetime, n: int) -> datetime:
    index = month.year * 12 + month.month - 1 + n
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(table: str, month: datetime) -> str:
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def _parse(value: str) -> datetime | None:
    if value in ("MINVALUE", "MAXVALUE"):
        return None
    return datetime.fromisoformat(value.strip("'").replace(" ", "T")).astimezone(UTC)


def partitions(table: str) -> list[tuple[str, datetime | None, datetime | None]]:
    """``(name, lower, upper)`` of the partitions attached to ``table``, oldest first (None: MINVALUE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [table],
        )
        rows = cursor.fetchall()
    found = []
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match:
            found.append((name, _parse(match.group(1)), _parse(match.group(2))))
    return sorted(found, key=lambda p: (p[1] is not None, p[1] or datetime.min.replace(tzinfo=UTC)))


def _covered(month: datetime, spans) -> bool:
    return any(
        (lower is None or lower <= month) and (upper is None or month < upper) for lower, upper in spans
    )


def create_month(month: datetime) -> list[str]:
    """Make ``month``'s partitions of the executions and of their logs (those missing)."""
    made = []
    end = add_months(month, 1)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        for table, _key in LEDGER:
            spans = [(lower, upper) for _, lower, upper in partitions(table)]
            if _covered(month, spans):
                continue
            name = partition_name(table, month)
            with connection.cursor() as cursor:
                # Bounds are computed dates, never user text.
                cursor.execute(
                    f"CREATE TABLE {name} PARTITION OF {table} "
                    f"FOR VALUES FROM ('{month.isoformat()}') TO ('{end.isoformat()}')"
                )
                cursor.execute(truncate_trigger_sql(table, name))
            made.append(name)
    return made


def truncate_trigger_sql(parent: str, partition: str) -> str:
    """PostgreSQL does not clone statement-level triggers: each partition refuses TRUNCATE itself
    (the test runner alone may, through the function's session setting)."""
    fn = f"{parent}_append_only"
    return (
        f"DROP TRIGGER IF EXISTS {fn}_truncate_trg ON {partition}; "
        f"CREATE TRIGGER {fn}_truncate_trg BEFORE TRUNCATE ON {partition} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {fn}_truncate();"
    )


def ensure_partitions(now: datetime | None = None, ahead: int = AHEAD) -> list[str]:
    """The current month and the next ``ahead`` ones, made if missing. Returns the tables made."""
    global _months
    if not enabled():
        return []
    from django.utils import timezone

    first = month_start(now or timezone.now())
    made = []
    for n in range(ahead + 1):
        made += create_month(add_months(first, n))
    _months = None
    return made


def forget() -> None:
    """Drop the cached list of months (after partitions were made or detached elsewhere)."""
    global _months
    _months = None


def _spans() -> list[tuple[datetime | None, datetime]]:
    global _months
    if _months is None:
        _months = [(lower, upper) for _, lower, upper in partitions("executions_execution")]
    return _months


def admit(moments) -> None:
    """Before execution rows with these ``created_at`` are written: make any missing month, refuse
    (409 ``month_archived``) a month older than every partition, which archive_ledger took out."""
    if not enabled():
        return
    months = {month_start(moment) for moment in moments}
    missing = [month for month in months if not _covered(month, _spans())]
    if not missing:
        return
    forget()  # another process may have made (or archived) months since this one looked
    spans = _spans()
    if not spans:
        return  # not partitioned (yet): the migration has not run
    lowers = [lower for lower, _ in spans]
    oldest = None if None in lowers else min(lowers)
    for month in sorted(missing):
        if _covered(month, spans):
            continue
        if oldest is not None and month < oldest:
            raise DomainError(
                "month_archived",
                f"{month:%Y-%m} has been archived out of the ledger (manage.py archive_ledger); "
                "work from that month can no longer be recorded.",
            )
        create_month(month)
    forget()
