"""Batch ingestion throughput: executions per second through the real service (validation,
pricing, idempotency lookup, bulk insert, events, budget settlement, ``execution_finished``),
through HTTP in-process (the same plus auth, JSON and the view), and a raw psycopg ``COPY`` of the
same rows into the same table, in the same run, with the ratio.

    DATABASE_URL=postgres://root@127.0.0.1:5432/postgres .venv/bin/python -m bench ingest \
        [--batches 20] [--size 1000] [--rounds 5] [--server-port 8300] [--profile tottime,cumulative]

``--rounds`` repeats every line and takes each ratio within its round (median printed): on a
shared machine a burst of load moves one round, not the figure. ``--server-port`` adds the same
batches over real HTTP to daphne (the Procfile's web command, production settings). Each line's
first batch warms up off the clock. ``--profile`` prints cProfile's top functions for the HTTP line
(``BENCH_PROFILE_OUT=file`` keeps the stats).

Figures (README's benchmark table has the latest): before issue 15's batch work 0.063 x COPY on a
quiet machine (1,895 vs 30,303 executions/s); after its first part 0.14 x (HTTP in-process 4,732/s,
COPY 34,119/s). After the statement-level key check (migration 0017), batched settlements, tuple
COPYs and rollups from the rows in hand: medians 0.24-0.29 x at load 2-6 (HTTP in-process
3,700-5,400/s; at load 2: 0.240 x, granian 0.239 x, COPY 17,692/s), goal 0.30 x not met. Under load the ratio swings (0.12-0.68 x
seen): COPY slows more than the endpoint, so measure when the machine is quiet. What is left per
batch: PostgreSQL ~60 ms of CPU (the executions' COPY ~25 ms, as in the baseline, events, keys, the
commits' deferred foreign-key checks), Python ~115-145 ms (COPY formatting and JSON text ~20 %,
rollups ~15 %, validation ~12 %, row building ~12 %).
"""

import argparse
import cProfile
import json
import os
import pstats
import statistics
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from bench._setup import throwaway_database

MODELS = [("gpt-4o", "openai"), ("gpt-4o-mini", "openai"), ("claude-sonnet-4", "anthropic")]


def report(i: int, run: str) -> dict:
    model, provider = MODELS[i % len(MODELS)]
    started = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(seconds=i)
    return {
        "external_id": f"{run}-{i}",
        "status": "success" if i % 10 else "failed",
        "trigger": "autonomous",
        "input": {"task": "Classify the inbound ticket", "ticket": i},
        "output": {"label": "billing", "confidence": 0.93},
        "error": "" if i % 10 else "Provider rate limit hit (429).",
        "model": model,
        "model_provider": provider,
        "input_tokens": 1200 + i % 500,
        "output_tokens": 150 + i % 50,
        "cache_read_tokens": 400,
        "started_at": started.isoformat(),
        "finished_at": (started + timedelta(milliseconds=2300)).isoformat(),
        "session_id": f"sess-{i % 97}",
    }


def via_service(agent, batches: list[list[dict]]) -> float:
    from executions.api.batch_items import validate_reports
    from executions.services import ingest_batch

    began = 0.0
    for number, items in enumerate(batches):
        if number == 1:  # the first batch warms up (imports, first queries), off the clock
            began = time.perf_counter()
        valid, errors = validate_reports(items)
        assert not errors, errors
        results = ingest_batch(agent=agent, items=valid)
        assert all(r["status"] == 201 for r in results.values()), results
    return time.perf_counter() - began


def via_http(agent, batches: list[list[dict]], profile: str = "") -> float:
    from rest_framework.test import APIClient

    from agents.services import issue_key

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_key(agent=agent)[1]}")
    bodies = [json.dumps({"executions": items}) for items in batches]  # the client's work, off the clock
    # The first request warms up (the URLconf's imports, first queries), off the clock.
    warm = client.post("/api/v1/executions/batch", bodies.pop(0), content_type="application/json")
    assert warm.status_code == 207, warm.content[:300]
    profiler = cProfile.Profile() if profile else None
    began = time.perf_counter()
    if profiler:
        profiler.enable()
    for body in bodies:
        response = client.post("/api/v1/executions/batch", body, content_type="application/json")
        assert response.status_code == 207, response.content[:300]
    elapsed = time.perf_counter() - began
    if profiler:
        profiler.disable()
        if os.environ.get("BENCH_PROFILE_OUT"):
            profiler.dump_stats(os.environ["BENCH_PROFILE_OUT"])
        stats = pstats.Stats(profiler).strip_dirs()
        for order in profile.split(","):
            stats.sort_stats(order).print_stats(30)
    return elapsed


# The Procfile's two servers: ``web`` (daphne, ASGI) and ``agents`` (granian WSGI, where the README's
# routing sends /api/v1/executions), with the Procfile's defaults.
SERVERS = {
    "daphne": [
        "-m",
        "daphne",
        "-v",
        "0",
        "-b",
        "127.0.0.1",
        "-p",
        "{port}",
        "mission_control.asgi:application",
    ],
    "granian": [
        *("-m", "granian", "--interface", "wsgi", "--no-ws", "--host", "127.0.0.1", "--port", "{port}"),
        *(
            "--workers",
            "2",
            "--blocking-threads",
            "16",
            "--log-level",
            "warning",
            "mission_control.wsgi:application",
        ),
    ],
}


def via_server(agent, batches: list[list[dict]], port: int, server: str = "daphne") -> float:
    """The same batches over real HTTP to one of the Procfile's servers (production settings)
    serving the same database, one at a time."""
    import http.client
    import subprocess
    import sys

    from agents.services import issue_key
    from bench.http_servers import django_server_env, wait_up

    env = django_server_env()
    cmd = [sys.executable, *(part.format(port=port) for part in SERVERS[server])]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    key = issue_key(agent=agent)[1]
    bodies = [json.dumps({"executions": items}).encode() for items in batches]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    try:
        wait_up(port, proc, timeout_s=90)
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        began = 0.0
        for number, body in enumerate(bodies):
            if number == 1:  # the first request warms the server up, off the clock
                began = time.perf_counter()
            client.request("POST", "/api/v1/executions/batch", body, headers)
            response = client.getresponse()
            answer = response.read()
            assert response.status == 207, answer[:300]
        return time.perf_counter() - began
    finally:
        proc.terminate()
        proc.wait(30)


def via_copy(agent, batches: list[list[dict]]) -> float:
    """The same rows (built and priced beforehand, outside the clock) copied in with COPY."""
    from django.db import connection
    from django.utils import timezone
    from psycopg.types.json import Jsonb

    from executions.api.serializers import ReportSerializer, body_hash
    from executions.ingestion import build_execution
    from executions.models import Execution

    fields = [f for f in Execution._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    now = timezone.now()
    prepared = []
    for items in batches:
        rows = []
        for item in items:
            serializer = ReportSerializer(data=item)
            serializer.is_valid(raise_exception=True)
            execution = build_execution(agent, serializer.validated_data, body_hash(item), now)
            rows.append(
                [
                    Jsonb(v) if f.get_internal_type() == "JSONField" and v is not None else v
                    for f, v in ((f, getattr(execution, f.attname)) for f in fields)
                ]
            )
        prepared.append(rows)
    connection.ensure_connection()
    raw = connection.connection
    began = 0.0
    for number, rows in enumerate(prepared):
        if number == 1:  # the first batch warms up, off the clock, as in the other lines
            began = time.perf_counter()
        with (
            raw.transaction(),
            raw.cursor() as cursor,
            cursor.copy(f"COPY executions_execution ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    return time.perf_counter() - began


@contextmanager
def without_finish_receivers():
    """Measure the ledger's own path: other apps' ``execution_finished`` receivers (rollups,
    workflows) are timed by the line "as deployed" instead."""
    from executions.signals import execution_finished

    saved = execution_finished.receivers
    execution_finished.receivers = []
    execution_finished.sender_receivers_cache.clear()
    try:
        yield
    finally:
        execution_finished.receivers = saved
        execution_finished.sender_receivers_cache.clear()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench ingest")
    parser.add_argument("--batches", type=int, default=20, help="batches per measurement")
    parser.add_argument("--size", type=int, default=1000, help="executions per batch (at most 1000)")
    parser.add_argument(
        "--deployed-batches", type=int, default=2, help="batches for the as-deployed line (0: skip it)"
    )
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--rounds", type=int, default=1, help="measure every line this many times")
    parser.add_argument(
        "--server-port",
        type=int,
        default=0,
        help="also post the batches over real HTTP to daphne started on this port (first round) and to"
        " granian WSGI on the next port (every round); 0: skip",
    )
    parser.add_argument(
        "--profile",
        default="",
        metavar="ORDER",
        help="cProfile the HTTP line and print the top 30 by these orders (e.g. tottime,cumulative)",
    )
    args = parser.parse_args(argv)
    # Named after DATABASE_URL's database, so benchmarks run from several checkouts do not collide.
    own = os.environ.get("DATABASE_URL", "").rsplit("/", 1)[-1].split("?")[0] or "postgres"
    with throwaway_database(f"bench_{own}_ingest"):
        from agents.services import create_agent
        from governance.models import Business

        business = Business.objects.create(name="Bench", slug="bench")
        agents = iter(range(1000))

        def batches(count: int) -> tuple:
            agent = create_agent(business=business, name=f"bench-{next(agents)}")
            run = uuid.uuid4().hex[:8]
            # One batch more than measured: each line's first batch warms up off the clock.
            data = [[report(b * args.size + i, run) for i in range(args.size)] for b in range(count + 1)]
            return agent, data, count * args.size

        # Each round measures every line and then COPY; the ratio is taken within the round and
        # the median over rounds printed, so a burst of load on the shared machine moves one round.
        rounds: list[list[tuple[str, float]]] = []
        for number in range(args.rounds):
            lines = []
            with without_finish_receivers():
                agent, data, n = batches(args.batches)
                lines.append(("service, ledger only (validate + ingest_batch)", n / via_service(agent, data)))
                if not args.no_http:
                    agent, data, n = batches(args.batches)
                    elapsed = via_http(agent, data, args.profile if number == 0 else "")
                    lines.append(("HTTP in-process, ledger only (POST /batch)", n / elapsed))
            if args.deployed_batches and not args.no_http:
                agent, data, n = batches(args.deployed_batches)
                lines.append(
                    (
                        "HTTP in-process as deployed (+ execution_finished receivers)",
                        n / via_http(agent, data),
                    )
                )
            if args.server_port and number == 0:
                agent, data, n = batches(args.batches)
                lines.append(
                    (
                        "HTTP to daphne as deployed (production settings)",
                        n / via_server(agent, data, args.server_port),
                    )
                )
            if args.server_port:
                agent, data, n = batches(args.batches)
                lines.append(
                    (
                        "HTTP to granian WSGI as deployed (Procfile agents)",
                        n / via_server(agent, data, args.server_port + 1, "granian"),
                    )
                )
            agent, data, n = batches(args.batches)
            lines.append(("raw psycopg COPY of the same rows", n / via_copy(agent, data)))
            rounds.append(lines)
            if args.rounds > 1:
                copy = lines[-1][1]
                print(f"round {number + 1}: " + ", ".join(f"{rate / copy:.3f}" for _, rate in lines[:-1]))
        print(
            f"batch ingestion, batches of {args.size} (PostgreSQL, one process), median of {args.rounds} round(s):"
        )
        for label in dict.fromkeys(label for lines in rounds for label, _ in lines):
            rates = [rate for lines in rounds for name, rate in lines if name == label]
            ratios = [rate / lines[-1][1] for lines in rounds for name, rate in lines if name == label]
            rate, ratio = statistics.median(rates), statistics.median(ratios)
            print(f"  {label:<60} {rate:>9,.0f} executions/s   {ratio:6.3f} x COPY")
