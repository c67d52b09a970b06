"""The explorer half of ``bench dashboards``: every filter of the executions explorer (the API list and
the console page) and of the logs page, alone and with a business, first page and a later page, each
with the plan of its slowest query. A page over ``TARGET_MS`` (median) is a miss and fails the run.

Later pages are reached the way a user reaches them: the API by following ``next`` links, the pages
by their ``before=`` link (keyset: no OFFSET, no COUNT).
"""

import re
import statistics
import time
from datetime import datetime, timedelta

TARGET_MS = 100
LATER_PAGE = 10  # the API page measured as "later": reached by following nine next links


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def execution_filters(
    *, agent: int, now: datetime, cron_job: int, workflow_run: int
) -> list[tuple[str, str]]:
    """(name, query) for every filter the explorer offers; rare values on purpose where they exist."""
    return [
        ("agent", f"agent={agent}"),
        ("status", "status=failed"),
        ("status live", "status=running"),
        ("trigger", "trigger=cron"),
        ("trigger none", "trigger=webhook"),  # no such rows: the whole index range is walked
        ("model", "model=gpt-4o"),
        ("provider", "provider=anthropic"),
        ("since 2d", f"since={iso(now - timedelta(days=2))}"),
        ("last week's day", f"since={iso(now - timedelta(days=8))}&until={iso(now - timedelta(days=7))}"),
        ("cost range", "min_cost=0.012&max_cost=0.013"),
        ("cost high", "min_cost=0.0149"),
        ("duration range", "min_duration_ms=300000&max_duration_ms=400000"),
        ("cron job", f"cron_job={cron_job}"),
        ("workflow run", f"workflow_run={workflow_run}"),
        ("q common", "q=timeout"),
        ("q rare", "q=quota"),
        ("q logs", "q=retrying"),
    ]


def log_filters(*, agent: int, execution: int, now: datetime) -> list[tuple[str, str]]:
    return [
        ("level", "level=error"),
        ("kind", "kind=tool_call"),
        ("agent", f"agent={agent}"),
        ("execution", f"execution={execution}"),
        ("since/until", f"since={iso(now - timedelta(days=8))}&until={iso(now - timedelta(days=7))}"),
        ("q", "q=retrying"),
        ("q rare", "q=pull"),
    ]


class Recorder:
    """Times one request path (median of ``runs``) and keeps the SQL of its slowest query."""

    def __init__(self, runs: int, show_plans: bool, only: str = ""):
        self.runs = runs
        self.only = only
        self.show_plans = show_plans
        self.missed: list[str] = []

    def measure(self, name: str, client, path: str) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        response = client.get(path)
        if response.status_code != 200:
            self.missed.append(name)
            print(f"{name:52} answered {response.status_code}: MISSED")
            return
        times, db_times, slowest = [], [], None
        for _ in range(self.runs):
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - t) * 1000)
            db_times.append(sum(float(q["time"]) for q in ctx.captured_queries) * 1000)
            ledger = [q for q in ctx.captured_queries if "executions_execution" in q["sql"]]
            query = max(ledger or ctx.captured_queries, key=lambda q: float(q["time"]))
            if slowest is None or float(query["time"]) > float(slowest["time"]):
                slowest = query
        ms, db_ms = statistics.median(times), statistics.median(db_times)
        ok = db_ms < TARGET_MS
        if not ok:
            self.missed.append(name)
        print(f"{name:52} {ms:7.1f} {db_ms:7.1f} ms  {'ok' if ok else 'MISSED'}  {plan_line(slowest['sql'])}")
        if self.show_plans or not ok:
            print(indent(explain(slowest["sql"], analyze=True)))


def explain(sql: str, *, analyze: bool = False) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {'(ANALYZE, BUFFERS) ' if analyze else ''}{sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


_SCAN = re.compile(
    r"(?:Index Only Scan|Index Scan)(?: Backward)? using (?P<index>\w+) on \w+"
    r"|Bitmap Index Scan on (?P<bitmap>\w+)|Seq Scan on (?P<table>\w+)"
)


def plan_line(sql: str) -> str:
    """The scans of the plan in one line: which index serves which table."""
    if not sql.lstrip().upper().startswith("SELECT"):
        return ""
    scans = []
    for match in _SCAN.finditer(explain(sql)):
        index, bitmap, table = match.group("index", "bitmap", "table")
        text = index or (f"bitmap {bitmap}" if bitmap else f"seq {table}")
        if text not in scans:
            scans.append(text)
    return "[" + ", ".join(scans[:4]) + "]"


def indent(text: str) -> str:
    return "\n".join("      " + line for line in text.splitlines())


def later_api_page(client, path: str) -> str | None:
    """The URL of page ``LATER_PAGE`` (following next links), or of the last page there is."""
    url = path
    for _ in range(LATER_PAGE - 1):
        found = client.get(url).json().get("next")
        if not found:
            return url if url != path else None
        url = found.replace("http://testserver", "")
    return url


def later_console_page(client, path: str) -> str | None:
    body = client.get(path).content.decode()
    found = re.search(r"before=(\d+)", body)
    if not found:
        return None
    return f"{path}{'&' if '?' in path else '?'}before={found.group(1)}"


def run(
    *, api, console, console_one, slug: str, filters, logs, runs: int, show_plans: bool, only: str = ""
) -> list[str]:
    """Measure every case (or those of the filters named with ``only``); the names of those missed."""
    recorder = Recorder(runs, show_plans, only)
    print(
        f"\n{'explorer (API and page), first and later page':58} {'median':>11}  target <{TARGET_MS} ms  [scans]"
    )
    for name, query in filters:
        if only and only not in f"api page {name}":
            continue
        for scope, extra in (("", ""), (" +business", f"business={slug}&")):
            path = f"/api/v1/executions/?{extra}{query}"
            recorder.measure(f"api {name}{scope}", api, path)
            later = later_api_page(api, path)
            if later:
                recorder.measure(f"api {name}{scope}, page {LATER_PAGE}", api, later)
        for scope, client in (("", console), (" +business", console_one)):
            path = f"/global/executions?{query}"
            recorder.measure(f"page {name}{scope}", client, path)
            later = later_console_page(client, path)
            if later:
                recorder.measure(f"page {name}{scope}, older", client, later)
    for name, query in logs:
        if only and only not in f"logs {name}":
            continue
        for scope, client in (("", console), (" +business", console_one)):
            path = f"/global/logs?{query}"
            recorder.measure(f"logs {name}{scope}", client, path)
            later = later_console_page(client, path)
            if later:
                recorder.measure(f"logs {name}{scope}, older", client, later)
    return recorder.missed
