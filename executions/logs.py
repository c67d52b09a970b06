"""Structured log entries of an execution: appended in order, never changed."""

from django.db import connection, transaction
from django.db.models import BooleanField, Max, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from executions.models import ACTIVE, Execution, ExecutionLog

MAX_ENTRIES = 1000


def build_entries(execution: Execution, entries: list[dict], first_seq: int) -> list[ExecutionLog]:
    now = timezone.now()
    return [
        ExecutionLog(
            execution_id=execution.pk,
            execution_created_at=execution.created_at,  # the month the entry lives in
            agent_id=execution.agent_id,
            business_id=execution.business_id,
            seq=first_seq + i,
            ts=entry.get("ts") or now,
            level=entry.get("level") or "info",
            kind=entry.get("kind") or "log",
            message=entry.get("message", ""),
            data=entry.get("data"),
            client_id=entry.get("client_id") or None,
        )
        for i, entry in enumerate(entries)
    ]


def append_logs(*, execution: Execution, entries: list[dict]) -> list[ExecutionLog]:
    """Append ``entries`` after the execution's last one, keeping their order.

    Allowed after the execution ended too (agents often flush logs last): appending adds to the
    record without rewriting any of it. An entry with a ``client_id`` already appended to this
    execution (a retried request) is not added again: the answer has the entry as first stored, so a
    retry answers exactly what the lost first answer would have.
    """
    with transaction.atomic():
        # The row lock serialises numbering: two appends never take the same ``seq`` (and a retry
        # racing its first attempt waits for it, then finds its entries). NO KEY: rows that only
        # reference the execution (these logs, events) are not blocked by it.
        Execution.objects.select_for_update(no_key=True).filter(pk=execution.pk).values_list("pk").first()
        client_ids = {entry["client_id"] for entry in entries if entry.get("client_id")}
        stored = {
            row.client_id: row
            for row in ExecutionLog.objects.filter(
                execution_id=execution.pk, execution_created_at=execution.created_at, client_id__in=client_ids
            )
        }
        new, seen = [], set(stored)
        for entry in entries:
            client_id = entry.get("client_id")
            if client_id and client_id in seen:
                continue
            seen.add(client_id)
            new.append(entry)
        mine = ExecutionLog.objects.filter(
            execution_id=execution.pk, execution_created_at=execution.created_at
        )
        last = mine.aggregate(m=Max("seq"))["m"] or 0
        created = ExecutionLog.objects.bulk_create(build_entries(execution, new, last + 1))
        if created and execution.status in ACTIVE:
            Execution.objects.filter(pk=execution.pk).update(last_seen_at=timezone.now())
    stored.update({row.client_id: row for row in created if row.client_id})
    made = iter(row for row in created if not row.client_id)
    return [stored[entry["client_id"]] if entry.get("client_id") else next(made) for entry in entries]


def search_logs(qs: QuerySet, *, level: str = "", kind: str = "", q: str = "") -> QuerySet:
    """Filter log entries by level, kind (comma-separated lists) and a text query."""
    if level:
        qs = qs.filter(level__in=level.split(","))
    if kind:
        qs = qs.filter(kind__in=kind.split(","))
    if q:
        qs = qs.filter(message_matches(q))
    return qs


def message_matches(q: str):
    """Full-text on PostgreSQL (the ``executionlog_fulltext`` GIN index), a LIKE elsewhere."""
    if connection.vendor == "postgresql":
        return RawSQL(
            "to_tsvector('english'::regconfig, executions_executionlog.message)"
            " @@ websearch_to_tsquery('english'::regconfig, %s)",
            [q],
            output_field=BooleanField(),
        )
    return Q(message__icontains=q)
