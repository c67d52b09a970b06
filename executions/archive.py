"""Retention: whole months of the ledger exported, verified, then detached (PostgreSQL).

``archive_month`` does one month (or the ``history`` partition), in one transaction:

1. the month's partitions (executions, logs) and the cost corrections are locked against writes
   (``SHARE``: other months go on), a month with live (pending/running) work is refused;
2. its executions, their logs and their cost corrections are written to
   ``<MC_ARCHIVE_DIR>/ledger-<label>.jsonl.gz``, one ``{"table": ..., "row": ...}`` a line;
3. the file is read back and compared, per table, with the partition: row count, SUM(cost_usd),
   SUM(total_tokens), min and max id. Any difference: ``ArchiveMismatch``, the transaction rolls
   back, nothing is detached;
4. the logs partition, then the executions partition, are detached and renamed
   ``archive_executions_<label>`` / ``archive_executionlog_<label>`` (read-only: triggers refuse
   UPDATE, DELETE and TRUNCATE). The composite foreign keys of the unpartitioned tables that may
   point into the month (cost corrections, idempotency keys, step and cron runs) are re-added NOT
   VALID: still enforced for every new row, no longer checked against the archived ones.

Rollups are not touched: they hold no key into the ledger and keep the month's figures.
"""

import gzip
import json
import os
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from executions import partitioning, partitions
from executions.models import ArchivedMonth

CHUNK = 5000
LOCK_TIMEOUT = "10s"  # the detach waits at most this long for readers of the ledger


class ArchiveError(Exception):
    """The month cannot be archived (live work, a bad cut-off, verification failed)."""


class ArchiveMismatch(ArchiveError):
    pass


@dataclass
class Month:
    label: str
    since: datetime | None
    until: datetime
    executions: str  # partition names
    logs: str


def archivable(before: datetime) -> list[Month]:
    """The months (partitions) entirely before ``before``, oldest first."""
    logs = {(lower, upper): name for name, lower, upper in partitions.partitions("executions_executionlog")}
    months = []
    for name, lower, upper in partitions.partitions("executions_execution"):
        if upper is None or upper > before:
            continue
        label = "history" if lower is None else f"{lower:%Y-%m}"
        if (lower, upper) not in logs:
            raise ArchiveError(f"{label}: the logs have no partition with the same bounds.")
        months.append(Month(label, lower, upper, name, logs[(lower, upper)]))
    return months


def _where(month: Month, column: str) -> tuple[str, list]:
    if month.since is None:
        return f"{column} < %s", [month.until]
    return f"{column} >= %s AND {column} < %s", [month.since, month.until]


def _sources(month: Month) -> dict[str, tuple[str, list]]:
    """table label -> (a SELECT of its rows, params)."""
    where, params = _where(month, "execution_created_at")
    return {
        "executions": (f"SELECT * FROM {month.executions}", []),  # noqa: S608
        "logs": (f"SELECT * FROM {month.logs}", []),  # noqa: S608
        "cost_corrections": (f"SELECT * FROM executions_costcorrection WHERE {where}", params),  # noqa: S608
    }


def figures_in_db(month: Month) -> dict:
    out = {}
    with connection.cursor() as cursor:
        for table, (select, params) in _sources(month).items():
            cost = "sum(cost_usd)" if table != "logs" else "NULL::numeric"
            tokens = "sum(total_tokens)" if table == "executions" else "NULL::bigint"
            cursor.execute(
                f"SELECT count(*), {cost}, {tokens}, min(id), max(id) FROM ({select}) t",  # noqa: S608
                params,
            )
            out[table] = _figures(*cursor.fetchone())
    return out


def _figures(rows, cost, tokens, min_id, max_id) -> dict:
    return {
        "rows": rows,
        "cost_usd": str(Decimal(cost or 0).quantize(Decimal("0.00000001"))),
        "total_tokens": int(tokens or 0),
        "min_id": min_id,
        "max_id": max_id,
    }


def export(month: Month, path: Path) -> None:
    """Stream the month's rows into ``path`` (gzip JSONL), through a server-side cursor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with gzip.open(partial, "wt", encoding="utf-8") as out:
        for table, (select, params) in _sources(month).items():
            head = json.dumps({"table": table})[:-1] + ', "row": '
            with connection.chunked_cursor() as cursor:
                cursor.execute(f"SELECT row_to_json(t)::text FROM ({select}) t ORDER BY t.id", params)  # noqa: S608
                while rows := cursor.fetchmany(CHUNK):
                    out.writelines(f"{head}{row}}}\n" for (row,) in rows)
    os.replace(partial, path)


def figures_in_file(path: Path) -> dict:
    totals: dict[str, list] = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line, parse_float=Decimal)
            row = item["row"]
            t = totals.setdefault(item["table"], [0, Decimal(0), 0, None, None])
            t[0] += 1
            t[1] += Decimal(str(row.get("cost_usd") or 0))
            t[2] += int(row.get("total_tokens") or 0)
            t[3] = row["id"] if t[3] is None else min(t[3], row["id"])
            t[4] = row["id"] if t[4] is None else max(t[4], row["id"])
    return {
        table: _figures(
            rows, cost if table != "logs" else None, tokens if table == "executions" else None, lo, hi
        )
        for table, (rows, cost, tokens, lo, hi) in totals.items()
    }


def verify(month: Month, path: Path, expected: dict) -> None:
    found = figures_in_file(path)
    empty = _figures(0, None, None, None, None)
    for table, figures in expected.items():
        if found.get(table, empty) != figures:
            raise ArchiveMismatch(
                f"{month.label}: the export does not match the ledger for {table}: "
                f"file {found.get(table, empty)} != ledger {figures}"
            )


def archive_name(kind: str, month: Month) -> str:
    return f"archive_{kind}_{month.label.replace('-', '_')}"


def archive_month(month: Month, directory: Path) -> ArchivedMonth:
    """Export, verify, detach one month. Raises ArchiveError (nothing detached) on any problem."""
    path = directory / f"ledger-{month.label}.jsonl.gz"
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"LOCK TABLE {month.executions}, {month.logs}, executions_costcorrection IN SHARE MODE"
            )
            cursor.execute(
                f"SELECT count(*) FROM {month.executions} WHERE status IN ('pending', 'running')"  # noqa: S608
            )
            live = cursor.fetchone()[0]
        if live:
            raise ArchiveError(f"{month.label}: {live} execution(s) still pending or running.")
        expected = figures_in_db(month)
        export(month, path)
        verify(month, path, expected)
        _detach(month)
        partitions.forget()
        return ArchivedMonth.objects.create(
            label=month.label,
            since=month.since,
            until=month.until,
            executions_table=archive_name("executions", month),
            logs_table=archive_name("executionlog", month),
            path=str(path),
            figures=expected,
        )


def _detach(month: Month) -> None:
    references = partitioning.REFERENCES[1:] + partitioning.STEP_AND_CRON_RUNS
    executions_archive, logs_archive = archive_name("executions", month), archive_name("executionlog", month)
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses with checks pending
        for table, name in references:
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        cursor.execute(f"ALTER TABLE executions_executionlog DETACH PARTITION {month.logs}")
        cursor.execute(f"ALTER TABLE {month.logs} DROP CONSTRAINT executionlog_execution_fk")
        cursor.execute(f"ALTER TABLE executions_execution DETACH PARTITION {month.executions}")
        for table, name in references:
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (execution_id, execution_created_at) "
                "REFERENCES executions_execution (id, created_at) NOT VALID"
            )
        for old, new in ((month.executions, executions_archive), (month.logs, logs_archive)):
            cursor.execute(f"ALTER TABLE {old} RENAME TO {new}")
            # Read-only for good: the logs' function refuses every UPDATE and DELETE.
            cursor.execute(
                f"DROP TRIGGER IF EXISTS archive_append_only_trg ON {new}; "
                f"CREATE TRIGGER archive_append_only_trg BEFORE UPDATE OR DELETE ON {new} "
                "FOR EACH ROW EXECUTE FUNCTION executions_executionlog_append_only()"
            )


def archive_before(before: datetime, directory: Path | None = None, say=print) -> list[ArchivedMonth]:
    """Archive every month entirely before ``before`` (the first day of a month), oldest first."""
    if not partitions.enabled():
        raise ArchiveError("The ledger is partitioned on PostgreSQL only; nothing to archive here.")
    current = partitions.month_start(timezone.now())
    if before > current:
        raise ArchiveError(f"--before {before:%Y-%m} is after the current month ({current:%Y-%m}).")
    directory = Path(directory or settings.MC_ARCHIVE_DIR)
    done = []
    for month in archivable(before):
        done.append(archive_month(month, directory))
        figures = done[-1].figures
        say(
            f"{month.label}: {figures['executions']['rows']:,} executions, {figures['logs']['rows']:,} logs, "
            f"{figures['cost_corrections']['rows']:,} cost corrections -> {done[-1].path} (verified, detached)"
        )
    return done


def export_archived(label: str, out) -> int:
    """Write an archived month as JSONL to ``out`` (text), from its tables; returns the rows written."""
    month = ArchivedMonth.objects.get(label=label)
    written = 0
    sources = {
        "executions": f"SELECT * FROM {month.executions_table}",  # noqa: S608
        "logs": f"SELECT * FROM {month.logs_table}",  # noqa: S608
    }
    with transaction.atomic():
        for table, select in sources.items():
            head = json.dumps({"table": table})[:-1] + ', "row": '
            with connection.chunked_cursor() as cursor:
                cursor.execute(f"SELECT row_to_json(t)::text FROM ({select}) t ORDER BY t.id")  # noqa: S608
                while rows := cursor.fetchmany(CHUNK):
                    out.writelines(f"{head}{row}}}\n" for (row,) in rows)
                    written += len(rows)
    return written
