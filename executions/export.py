"""Export: every matching ledger row as CSV or JSON Lines, streamed.

Rows are read with ``.iterator(chunk_size=...)`` (a server-side cursor on PostgreSQL) as flat
tuples and written out one by one, so memory stays the same for ten rows or a million.
"""

import csv
import json
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import QuerySet

CHUNK = 2000

COLUMNS = (
    ("id", "id"),
    ("business", "business__slug"),
    ("agent", "agent_id"),
    ("agent_name", "agent__name"),
    ("trigger", "trigger"),
    ("status", "status"),
    ("external_id", "external_id"),
    ("created_at", "created_at"),
    ("started_at", "started_at"),
    ("finished_at", "finished_at"),
    ("duration_ms", "duration_ms"),
    ("model", "model"),
    ("model_provider", "model_provider"),
    ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"),
    ("cache_read_tokens", "cache_read_tokens"),
    ("total_tokens", "total_tokens"),
    ("cost_usd", "effective_cost_usd"),
    ("cost_source", "cost_source"),
    ("corrected_cost_source", "corrected_cost_source"),
    ("error", "error"),
    ("error_type", "error_type"),
    ("retry_count", "retry_count"),
    ("replay_of", "replay_of_id"),
    ("retry_of", "retry_of_id"),
    ("cron_job", "cron_job_id"),
    ("workflow_run", "workflow_run_id"),
    ("workflow_step", "workflow_step"),
    ("session_key", "session_key"),
    ("session_id", "session_id"),
    ("input", "input"),
    ("output", "output"),
)
NAMES = [name for name, _ in COLUMNS]
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


def _rows(qs: QuerySet) -> Iterator[tuple]:
    # Oldest first, so an export reads like the history it is.
    return qs.order_by("id").values_list(*[source for _, source in COLUMNS]).iterator(chunk_size=CHUNK)


def _plain(value):
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _cost_source(record: dict) -> dict:
    if record["cost_usd"] is not None:
        # The same 8 places as the API whatever the database hands back for the coalesced value.
        record["cost_usd"] = f"{Decimal(record['cost_usd']):.8f}"
    corrected = record.pop("corrected_cost_source")
    if corrected:
        record["cost_source"] = corrected
    return record


class _Line:
    """A file-like object for csv.writer that hands back each line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def stream_csv(qs: QuerySet) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow([n for n in NAMES if n != "corrected_cost_source"])
    for values in _rows(qs):
        record = _cost_source({name: _plain(v) for name, v in zip(NAMES, values, strict=True)})
        for name in ("input", "output"):
            if record[name] is not None:
                record[name] = json.dumps(record[name], separators=(",", ":"))
        yield writer.writerow(["" if v is None else v for v in record.values()])


def stream_jsonl(qs: QuerySet) -> Iterator[str]:
    for values in _rows(qs):
        record = _cost_source({name: _plain(v) for name, v in zip(NAMES, values, strict=True)})
        yield json.dumps(record, separators=(",", ":"), default=str) + "\n"


STREAMS = {"csv": stream_csv, "jsonl": stream_jsonl}


def buffered(lines: Iterator[str], size: int = 64 * 1024) -> Iterator[str]:
    """Join lines into chunks of about ``size`` characters: fewer, larger writes to the socket."""
    chunk: list[str] = []
    length = 0
    for line in lines:
        chunk.append(line)
        length += len(line)
        if length >= size:
            yield "".join(chunk)
            chunk, length = [], 0
    if chunk:
        yield "".join(chunk)
