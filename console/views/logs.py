"""``/global/logs``: every execution's structured log entries in one place, searchable and exportable.

Entries are read through the ledger's selectors (``visible_executions``) and its log search
(``executions.logs.search_logs``: full text on PostgreSQL), so the scoping is the API's.
"""

import csv
import json
from urllib.parse import urlencode

from django.http import StreamingHttpResponse
from django.utils.dateparse import parse_datetime

from agents.models import Agent
from console.views.base import console_page, page
from executions.export import buffered
from executions.logs import search_logs
from executions.models import Execution, ExecutionLog, LogKind, LogLevel
from mission_control.params import id_or_none

PAGE_SIZE = 100
EXPORT_CHUNK = 2000
EXPORT_COLUMNS = ("id", "execution", "agent", "business", "seq", "ts", "level", "kind", "message", "data")


def _filters(request) -> dict:
    get = request.GET.get
    return {
        "q": get("q", "").strip()[:200],
        "level": get("level", "") if get("level", "") in LogLevel.values else "",
        "kind": get("kind", "") if get("kind", "") in LogKind.values else "",
        "agent": id_or_none(get("agent")) or "",
        "execution": id_or_none(get("execution", "").lstrip("#")) or "",
        "since": get("since", ""),
        "until": get("until", ""),
    }


def matching_logs(request, filters: dict):
    """The entries the caller may see that match ``filters``. Scoped and filtered on the entries' own
    copies of their execution's business and agent (indexed with the id), so no page joins the
    ledger: the semi-join on the executions read every entry (120 ms by agent on 200,000, bench)."""
    qs = ExecutionLog.objects.all()
    if not request.mc_scope.sees_everything:
        qs = qs.filter(business_id__in=request.mc_scope.ids)
    if filters["agent"]:
        qs = qs.filter(agent_id=filters["agent"])
    if filters["execution"]:
        # With its month: the entries are read from one partition.
        created = (
            Execution.objects.filter(pk=filters["execution"]).values_list("created_at", flat=True).first()
        )
        qs = qs.filter(execution_id=filters["execution"], execution_created_at=created)
    since, until = parse_datetime(filters["since"] or ""), parse_datetime(filters["until"] or "")
    if since:
        qs = qs.filter(ts__gte=since)
    if until:
        qs = qs.filter(ts__lt=until)
    return search_logs(qs, level=filters["level"], kind=filters["kind"], q=filters["q"])


@console_page
def log_list(request):
    filters = _filters(request)
    qs = matching_logs(request, filters)
    before = id_or_none(request.GET.get("before"))
    if before is not None:
        qs = qs.filter(pk__lt=before)
    rows = list(qs.select_related("agent").order_by("-id")[: PAGE_SIZE + 1])
    query = urlencode({k: v for k, v in filters.items() if v})
    context = {
        "logs": rows[:PAGE_SIZE],
        "next_before": rows[PAGE_SIZE - 1].pk if len(rows) > PAGE_SIZE else None,
        "first_page": not before,
        "filters": filters,
        "levels": LogLevel.choices,
        "kinds": LogKind.choices,
        "agents": Agent.objects.for_business_ids(request.mc_scope.ids)
        .order_by("name")
        .values_list("id", "name"),
        "query": query,
    }
    return page(request, "console/logs.html", context, active="logs")


def _records(qs):
    values = qs.order_by("id").values_list(
        "id",
        "execution_id",
        "agent_id",
        "business__slug",
        "seq",
        "ts",
        "level",
        "kind",
        "message",
        "data",
    )
    for row in values.iterator(chunk_size=EXPORT_CHUNK):
        record = dict(zip(EXPORT_COLUMNS, row, strict=True))
        record["ts"] = record["ts"].isoformat()
        yield record


class _Line:
    def write(self, value: str) -> str:
        return value


def _csv(qs):
    writer = csv.writer(_Line())
    yield writer.writerow(EXPORT_COLUMNS)
    for record in _records(qs):
        record["data"] = "" if record["data"] is None else json.dumps(record["data"], separators=(",", ":"))
        yield writer.writerow(["" if v is None else v for v in record.values()])


def _jsonl(qs):
    for record in _records(qs):
        yield json.dumps(record, separators=(",", ":"), default=str) + "\n"


STREAMS = {"csv": (_csv, "text/csv; charset=utf-8"), "jsonl": (_jsonl, "application/x-ndjson")}


@console_page
def log_export(request):
    """Every matching entry, oldest first, streamed in constant memory (like the ledger's export)."""
    fmt = request.GET.get("format", "csv")
    stream, content_type = STREAMS.get(fmt, STREAMS["csv"])
    response = StreamingHttpResponse(
        buffered(stream(matching_logs(request, _filters(request)))), content_type=content_type
    )
    response["Content-Disposition"] = f'attachment; filename="logs.{fmt if fmt in STREAMS else "csv"}"'
    return response
