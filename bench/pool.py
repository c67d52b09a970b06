"""Web database pool: ``python -m bench pool [--agents 200] [--every 5] [--seconds 45] [--sizes 5,10,20,40]``.

Sizes ``MC_DB_POOL_MAX`` from measured load. For each pool size it serves daphne (the Procfile's web
line) on a throwaway PostgreSQL database and a private redis-server, has ``--agents`` agents
heartbeat every ``--every`` seconds (each with its own key, as a fleet does) for ``--seconds``, and
prints per size: answers by status, latency percentiles, and the most connections the web process
held at once (sampled from ``pg_stat_activity``: busy = in a query or transaction). Beside them,
the raw need by Little's law: arrival rate x mean time a request holds a connection.
"""

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

from bench._fault_stack import Stack
from bench.faults import _admin, _database_urls


def _seed(stack: Stack, agents: int) -> list[str]:
    os.environ.update({k: stack.env[k] for k in ("DATABASE_URL", "REDIS_URL", "MC_VAR_DIR", "MC_TESTING")})
    os.environ.update(LOG_LEVEL="ERROR", DJANGO_SETTINGS_MODULE="mission_control.settings")
    import django

    django.setup()
    from agents.services import create_agent, issue_key
    from governance.models import Business

    business = Business.objects.create(name="Pool", slug="pool")
    return [issue_key(agent=create_agent(business=business, name=f"beat-{n}"))[1] for n in range(agents)]


async def _fleet(url: str, keys: list[str], every: float, seconds: float) -> tuple[Counter, list[float], int]:
    codes: Counter = Counter()
    latencies: list[float] = []
    in_flight = peak = 0
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=len(keys), max_keepalive_connections=len(keys))
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def agent(index: int, key: str) -> None:
            nonlocal in_flight, peak
            await asyncio.sleep(every * index / len(keys))  # spread the beats evenly
            body = {"status": "idle", "version": "1.0.0", "running": []}
            while time.monotonic() < stop_at:
                began = time.monotonic()
                in_flight += 1
                peak = max(peak, in_flight)
                try:
                    response = await client.post(
                        "/api/v1/agent/heartbeat", json=body, headers={"Authorization": f"Bearer {key}"}
                    )
                    codes[response.status_code] += 1
                except httpx.HTTPError as exc:
                    codes[type(exc).__name__] += 1
                in_flight -= 1
                latencies.append(time.monotonic() - began)
                await asyncio.sleep(max(0.0, every - (time.monotonic() - began)))

        await asyncio.gather(*(agent(i, k) for i, k in enumerate(keys)))
    return codes, latencies, peak


def _sample_connections(admin_url: str, name: str, stop: threading.Event, out: dict) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        while not stop.wait(0.2):
            row = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity WHERE datname = %s",
                (name,),
            ).fetchone()
            out["open"] = max(out.get("open", 0), row[0])
            out["busy"] = max(out.get("busy", 0), row[1])


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 2 else float("nan")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench pool", description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--every", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=45.0)
    parser.add_argument("--sizes", default="5,10,20,40")
    args = parser.parse_args(argv)
    if not shutil.which("redis-server"):
        sys.exit("bench pool: redis-server is not on the PATH")
    name = f"mc_pool_{uuid.uuid4().hex[:8]}"
    url, admin_url = _database_urls(name)
    logs = Path(tempfile.mkdtemp(prefix="mc-pool-"))
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    stack = Stack(database_url=url, logs=logs, env_extra={"LOG_LEVEL": "ERROR"})
    try:
        stack.start_redis()
        stack.manage("migrate", "--noinput", "-v0")
        keys = _seed(stack, args.agents)
        rate = args.agents / args.every
        print(
            f"{args.agents} agents beating every {args.every:g} s: {rate:.0f} requests/s offered, {args.seconds:g} s per size"
        )
        print(
            f"{'pool':>4}  {'answers':<34} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'served/s':>8} {'in flight':>9} {'conns open/busy':>15}"
        )
        for size in [int(s) for s in args.sizes.split(",")]:
            stack.web.env = {**stack.env, "MC_DB_POOL_MAX": str(size)}
            stack.web.start()
            stack.wait_healthy()
            stop, seen = threading.Event(), {}
            sampler = threading.Thread(
                target=_sample_connections, args=(admin_url, name, stop, seen), daemon=True
            )
            sampler.start()
            codes, latencies, peak = asyncio.run(_fleet(stack.url, keys, args.every, args.seconds))
            stop.set()
            sampler.join()
            stack.web.stop()
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(codes.items(), key=str))
            served = sum(v for k, v in codes.items() if k == 200) / args.seconds
            print(
                f"{size:>4}  {answers:<34} {_pct(latencies, 50):>7.0f} {_pct(latencies, 95):>7.0f} "
                f"{_pct(latencies, 99):>7.0f} {served:>8.1f} {peak:>9} {seen.get('open', 0):>7}/{seen.get('busy', 0):<7}"
            )
            mean = statistics.fmean(latencies) if latencies else 0
            print(
                f"      Little's law: {rate:.0f}/s x {mean * 1000:.0f} ms mean in the server = {rate * mean:.1f} requests in flight"
            )
    finally:
        stack.stop_all()
        from django.db import connections

        connections.close_all()
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(logs, ignore_errors=True)
