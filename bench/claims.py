"""Claim latency with many agents waiting: from ``pending`` (committed) to claimed, in the same run
as the database's own idea of a fast path (one claim of work already there).

    DATABASE_URL=postgres://root@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python -m bench claims [--agents 1000] [--work 200] [--every 0.05] [--wait 30] [--spread 30]

Serves the product with daphne (the Procfile's ``web``, production settings); ``--agents`` pull
agents each hold one long-polling claim (``wait_seconds: 30``, renewed when it ends), so that many
claims wait in the web process at once. This process then queues ``--work`` executions one at a
time for random agents through the service (as the API, cron or a workflow would), every
``--every`` seconds, and measures from the commit to the moment the agent's claim answer arrives.
Baseline: claims of work that is already pending (no wait at all), in the same run.

The server's collector is watched (``bench/gc_probe.py``): every full collection while work is
queued (pause, the server thread's CPU, RSS), and a census of the objects it walks with every agent
waiting and again once none is, so the objects a waiting claim keeps alive are counted.
"""

import argparse
import asyncio
import json
import os
import random
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench import gc_probe
from bench._loadgen import Connection, Tally
from bench._setup import throwaway_database
from bench.heartbeat import SITE, URLS, serve, server_env
from bench.http_servers import free_port


def make_agents(size: int) -> list[tuple[object, str]]:
    from agents.models import AgentMode
    from agents.services import create_agent, issue_key
    from governance.models import Business

    business = Business.objects.create(slug="bench-claims", name="Bench claims")
    agents = [create_agent(business=business, name=f"p{n}", mode=AgentMode.PULL) for n in range(size)]
    return [(agent, issue_key(agent=agent, name="bench")[1]) for agent in agents]


async def waiters(
    port: int, fleet, claimed: dict, stop: asyncio.Event, wait_s: int, sent: list, spread: float
) -> Tally:
    """One long-poll per agent, each on its own connection, renewed until ``stop``. The first ones
    are spread over ``spread`` seconds: a fleet's long-polls are not in step, so neither are their
    renewals (``--spread 0`` sends them all at once, as after a restart of every agent)."""
    tally = Tally()

    async def one(agent, key) -> None:
        await asyncio.sleep(random.uniform(0, spread))
        conn = Connection("127.0.0.1", port)
        body = json.dumps({"wait_seconds": wait_s}).encode()
        first = True
        while not stop.is_set():
            started = time.perf_counter()
            if first:
                sent[0] += 1
                first = False
            try:
                answer = await conn.request(
                    "POST", "/api/v1/agent/executions/claim", body, {"Authorization": f"Bearer {key}"}
                )
            except OSError:
                tally.errors += 1
                conn.close()
                await asyncio.sleep(0.1)
                continue
            tally.add(answer.status, time.perf_counter() - started)
            if answer.status == 200:
                claimed[json.loads(answer.body)["id"]] = time.perf_counter()
        conn.close()

    await asyncio.gather(*(one(agent, key) for agent, key in fleet))
    return tally


def queue_one(agent) -> tuple[int, float]:
    from django.db import connection

    from executions.services import start_execution

    execution = start_execution(agent=agent, trigger="manual", input={"bench": True})
    at = time.perf_counter()  # start_execution returns after its commit
    connection.close()  # this thread's connection; the database is dropped at the end
    return execution.pk, at


async def measure(
    port: int, fleet, work: int, every: float, wait_s: int, spread: float, probe: dict
) -> tuple[list[float], Tally]:
    claimed: dict[int, float] = {}
    stop = asyncio.Event()
    sent = [0]
    began = time.perf_counter()
    task = asyncio.create_task(waiters(port, fleet, claimed, stop, wait_s, sent, spread))
    while sent[0] < len(fleet):
        await asyncio.sleep(0.2)
    # Every claim is sent; give the server time to take them all in (it answers none: no work).
    await asyncio.sleep(10 + len(fleet) / 100)
    probe["waiting"] = await asyncio.to_thread(gc_probe.census, probe["pid"], probe["out"])
    probe["since"], probe["cpu_since"] = time.time(), gc_probe.cpu_s(probe["pid"])
    queued: dict[int, float] = {}
    probe["rss"] = []
    for n in range(work):
        if n % max(1, int(1 / every)) == 0:  # about once a second
            probe["rss"].append(gc_probe.rss_mib(probe["pid"]))
        agent, _ = random.choice(fleet)
        pk, at = await asyncio.to_thread(queue_one, agent)
        queued[pk] = at
        await asyncio.sleep(every)
    deadline = time.monotonic() + 30
    while len([pk for pk in queued if pk in claimed]) < len(queued) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    probe["until"], probe["cpu_until"] = time.time(), gc_probe.cpu_s(probe["pid"])
    stop.set()
    tally = await task
    probe["idle"] = await asyncio.to_thread(gc_probe.census, probe["pid"], probe["out"])
    latencies = [claimed[pk] - at for pk, at in queued.items() if pk in claimed]
    slow = sorted(round(at - began) for pk, at in queued.items() if pk in claimed and claimed[pk] - at > 0.05)
    if slow:  # renewals come in waves every wait_s after the first claims: do the slow ones line up?
        print(f"  claimed over 50 ms after pending, queued at (s after the first long-poll): {slow}")
    missing = len(queued) - len(latencies)
    if missing:
        print(f"  {missing} queued executions were not claimed within 30 s")
    return latencies, tally


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench claims")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--work", type=int, default=200)
    parser.add_argument("--every", type=float, default=0.05)
    parser.add_argument("--wait", type=int, default=30, help="each long-poll's wait_seconds")
    parser.add_argument(
        "--spread", type=float, default=30, help="seconds over which the first long-polls are sent"
    )
    args = parser.parse_args(argv)
    with throwaway_database("mc_bench_claims"):
        run(args)


def run(args) -> None:
    from django.db import connection

    fleet = make_agents(args.agents)
    tmp = Path(tempfile.mkdtemp())
    (tmp / "bench_site.py").write_text(SITE + "import bench_gc_probe  # noqa: E402, F401\n")
    (tmp / "bench_gc_probe.py").write_text(gc_probe.SOURCE)
    (tmp / "bench_urls.py").write_text(URLS)
    port = free_port()
    probe: dict = {"out": tmp / "gc.jsonl"}
    proc = serve("daphne", port, {**server_env(tmp), "BENCH_GC_OUT": str(probe["out"])})
    probe["pid"] = proc.pid
    load_before = os.getloadavg()
    try:
        latencies, tally = asyncio.run(
            measure(port, fleet, args.work, args.every, args.wait, args.spread, probe)
        )
        # Baseline: work already pending, claimed with no wait by agents that are not waiting.
        few = fleet[: min(50, len(fleet))]
        for agent, _ in few:
            queue_one(agent)
        connection.close()

        async def claim_now() -> list[float]:
            times = []
            for _, key in few:
                conn = Connection("127.0.0.1", port)
                started = time.perf_counter()
                answer = await conn.request(
                    "POST",
                    "/api/v1/agent/executions/claim",
                    b'{"wait_seconds": 0}',
                    {"Authorization": f"Bearer {key}"},
                )
                times.append(time.perf_counter() - started)
                conn.close()
                assert answer.status == 200, answer.status
            return times

        baseline = asyncio.run(claim_now())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    bad = {s: n for s, n in tally.statuses.items() if s not in (200, 204)}
    print(f"{args.agents} agents waiting in one daphne process; {args.work} executions queued one by one")
    print(
        f"  pending -> claimed: p50 {percentile(latencies, 50) * 1000:.1f} ms,"
        f" p99 {percentile(latencies, 99) * 1000:.1f} ms, p99.9 {percentile(latencies, 99.9) * 1000:.1f} ms,"
        f" max {max(latencies or [0]) * 1000:.1f} ms, {sum(t > 0.05 for t in latencies)} over 50 ms"
        f" ({len(latencies)} claimed; other answers {bad or 'none'}, {tally.errors} connection errors)"
    )
    print(
        f"  baseline, a claim of work already pending (no wait): p50 {percentile(baseline, 50) * 1000:.1f} ms,"
        f" p99 {percentile(baseline, 99) * 1000:.1f} ms"
    )
    waiting, idle = probe["waiting"], probe["idle"]
    print(
        "  daphne's collector while work was queued: "
        + gc_probe.summary(
            gc_probe.full_collections(probe["out"], probe["since"], probe["until"]),
            probe["until"] - probe["since"],
        )
    )
    print(
        f"  objects it walks: {waiting['census']:,} with {args.agents} waiting, {idle['census']:,} with none"
        f" ({(waiting['census'] - idle['census']) / args.agents:.0f} per waiting claim);"
        f" RSS {waiting['rss_kib'] / 1024:.0f} MiB waiting, {idle['rss_kib'] / 1024:.0f} MiB after"
    )
    seconds = idle["at"] - waiting["at"]
    young = [(idle["collections"][g] - waiting["collections"][g]) / seconds for g in (0, 1, 2)]
    print(
        f"  collector thresholds {tuple(waiting['threshold'])}: collections per second of generation"
        f" 0, 1, 2: {young[0]:.1f}, {young[1]:.1f}, {young[2]:.2f};"
        f" RSS while work was queued {min(probe['rss']):.0f}-{max(probe['rss']):.0f} MiB,"
        f" CPU {(probe['cpu_until'] - probe['cpu_since']) / (probe['until'] - probe['since']):.0%} of a core"
    )
    grown = Counter(dict(waiting["top"]))
    grown.subtract(Counter(dict(idle["top"])))
    print(
        "  per waiting claim, by type: "
        + ", ".join(f"{name} {count / args.agents:.1f}" for name, count in grown.most_common(12) if count > 0)
    )
    print(f"  load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
