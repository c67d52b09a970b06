"""Heartbeats per second against a bare Django JSON view served by the same server, in the same run.

    DATABASE_URL=postgres://root@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python -m bench heartbeat [--seconds 10] [--connections 16] [--agents 200] [--rounds 2]

One server process (the Procfile's ``web`` command: daphne on ``mission_control.asgi``, production
settings) serves both the product and one extra URL, ``/bench/bare``: a plain function view that
answers ``{"ok": true}`` through the same middleware. The load generator (``bench._loadgen``, 16
keep-alive connections) alternates between the two, ``--rounds`` times each, heartbeating round
robin as ``--agents`` agents (one key each). This process flushes the presence buffer every 5 s, as
the worker does in production. ``--server granian`` (or ``gunicorn``) serves the WSGI application with one
worker process of four threads instead, as the Procfile's ``agents`` process does.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench import http_servers
from bench._loadgen import closed_loop
from bench._setup import throwaway_database
from bench.fleet import cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
SITE = "from mission_control.settings import *  # noqa: F403\nROOT_URLCONF = 'bench_urls'\n"
URLS = (
    "from django.http import JsonResponse\n"
    "from django.urls import include, path\n"
    "from django.views.decorators.csrf import csrf_exempt\n\n\n"
    "@csrf_exempt\n"
    "def bare(request):\n"
    "    return JsonResponse({'ok': True})\n\n\n"
    "urlpatterns = [path('bench/bare', bare), path('', include('mission_control.urls'))]\n"
)


def wait_up(port: int, proc: subprocess.Popen) -> None:
    http_servers.wait_up(port, proc, timeout_s=60)  # Django under load starts slower than a raw app


def server_env(extra_path: Path) -> dict:
    return http_servers.django_server_env(settings_module="bench_site", extra_path=extra_path)


def serve(kind: str, port: int, env: dict, threads: int = 4) -> subprocess.Popen:
    """``daphne``: the Procfile's ``web``; ``granian``/``gunicorn``: its WSGI ``agents`` process
    with one worker (the same flags, bound to ``port``)."""
    if kind == "daphne":
        cmd = [sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port)]
        cmd.append("mission_control.asgi:application")
    elif kind == "granian":
        cmd = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1"]
        cmd += [
            "--port",
            str(port),
            "--workers",
            "1",
            "--blocking-threads",
            str(threads),
            "--log-level",
            "warning",
        ]
        cmd.append("mission_control.wsgi:application")
    else:
        cmd = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "1", "--threads", str(threads)]
        cmd += ["-b", f"127.0.0.1:{port}", "--log-level", "warning", "mission_control.wsgi:application"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=None)
    wait_up(port, proc)
    return proc


def make_fleet(size: int) -> list[str]:
    from agents.services import create_agent, issue_key
    from governance.models import Business

    business = Business.objects.create(slug="bench-heartbeat", name="Bench heartbeat")
    return [
        issue_key(agent=create_agent(business=business, name=f"a{n}"), name="bench")[1] for n in range(size)
    ]


def flush_presence_every(seconds: float, stop: threading.Event) -> None:
    from django.db import connection

    from agents import presence

    while not stop.wait(seconds):
        presence.flush()
    connection.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench heartbeat")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--server", choices=["daphne", "granian", "gunicorn"], default="daphne")
    parser.add_argument("--threads", type=int, default=4, help="WSGI server threads (granian, gunicorn)")
    args = parser.parse_args(argv)
    with throwaway_database("mc_bench_heartbeat"):
        run(args)


def run(args) -> None:
    keys = make_fleet(args.agents)
    tmp = Path(tempfile.mkdtemp())
    (tmp / "bench_site.py").write_text(SITE)
    (tmp / "bench_urls.py").write_text(URLS)
    beat = json.dumps(
        {"status": "idle", "version": "1.0", "runtime_location": "bench", "running": []}
    ).encode()
    headers = [{"Authorization": f"Bearer {key}"} for key in keys]

    def bare(n):
        return "POST", "/bench/bare", beat, headers[n % len(headers)]

    def heartbeat(n):
        return "POST", "/api/v1/agent/heartbeat", beat, headers[n % len(headers)]

    stop = threading.Event()
    flusher = threading.Thread(target=flush_presence_every, args=(5.0, stop), daemon=True)
    flusher.start()
    port = http_servers.free_port()
    proc = serve(args.server, port, server_env(tmp), args.threads)
    rows = {"bare": [], "heartbeat": []}
    try:
        # Warm up, not counted: every agent beats twice (a first beat writes rows and loads the
        # agent's answer; a key is trusted once checked after its counter was read, at the second),
        # and the bare view answers as many. Cold beats are bench fleet's "first beats".
        for make in (bare, heartbeat):
            asyncio.run(closed_loop("127.0.0.1", port, 120, args.connections, make, requests=2 * len(keys)))
        for _ in range(args.rounds):
            for name, make in (("bare", bare), ("heartbeat", heartbeat)):
                cpu_before = cpu_seconds(proc.pid)
                rate, tally = asyncio.run(
                    closed_loop("127.0.0.1", port, args.seconds, args.connections, make)
                )
                cpu_ms = (cpu_seconds(proc.pid) - cpu_before) / max(1, tally.count) * 1000
                bad = {s: n for s, n in tally.statuses.items() if s != 200}
                if bad or tally.errors:
                    raise SystemExit(f"{name}: non-200 answers {bad}, {tally.errors} connection errors")
                rows[name].append((rate, tally.percentile(50), tally.percentile(99), cpu_ms))
    finally:
        stop.set()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(
        f"server: {args.server} (one process), {args.connections} connections, {args.agents} agents,"
        f" load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'view':<12}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'server CPU ms/req':>20}")
    for name, results in rows.items():
        for rate, p50, p99, cpu_ms in results:
            print(f"{name:<12}{rate:>10.0f}{p50 * 1000:>10.1f}{p99 * 1000:>10.1f}{cpu_ms:>20.2f}")
    bare_rate = sum(r[0] for r in rows["bare"]) / len(rows["bare"])
    beat_rate = sum(r[0] for r in rows["heartbeat"]) / len(rows["heartbeat"])
    print(
        f"heartbeat / bare Django view: {beat_rate:.0f} / {bare_rate:.0f} req/s = {beat_rate / bare_rate:.2f}x"
    )
