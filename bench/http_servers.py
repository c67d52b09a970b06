"""Which server should carry the agents' hot paths? Heartbeats per second under daphne (the
``web`` process) and under gunicorn (a WSGI ``api`` process), each beside a raw app of its own
kind (no Django) served the same way, in the same run.

    DATABASE_URL=postgres://root@127.0.0.1:5432/mc_bench REDIS_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python -m bench.http_servers [--seconds 8] [--connections 16]

Needs ``wrk`` (Debian package) and gunicorn (``pip install gunicorn``); the database is migrated
and given one business with a fleet of agents (``--agents``, one key each), beating round robin.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAW_WSGI = 'def application(environ, start_response):\n    start_response("200 OK", [("Content-Type", "application/json")])\n    return [b\'{"ok": true}\']\n'
RAW_ASGI = (
    "async def application(scope, receive, send):\n"
    "    if scope['type'] != 'http':\n        return\n"
    "    while (await receive()).get('more_body'):\n        pass\n"
    "    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'application/json')]})\n"
    "    await send({'type': 'http.response.body', 'body': b'{\"ok\": true}'})\n"
)


def free_port() -> int:
    """A free local port: any, or the first free one in ``BENCH_PORTS=low-high`` when several
    people share the machine and each keeps to a range."""
    span = os.environ.get("BENCH_PORTS", "")
    candidates = range(int(span.split("-")[0]), int(span.split("-")[1]) + 1) if span else [0]
    for port in candidates:
        if port and port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = s.getsockname()[1]
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port in BENCH_PORTS={span}")


_handed_out: set[int] = set()  # a port handed out is not bound yet: never hand it out twice


def django_server_env(
    *, settings_module: str = "mission_control.settings", extra_path: Path | None = None
) -> dict:
    """The environment of a Django server started by a benchmark: production settings (no query log,
    no HTTPS redirect of a TLS proxy), the benchmark's own database (the one this process is
    connected to), no agent rate limit (measure the endpoint, not the limit). ``extra_path`` goes in
    front of ``PYTHONPATH`` (a settings or URL module written for the run)."""
    from django.db import connection

    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    env = {
        **os.environ,
        "DATABASE_URL": f"{base}/{connection.settings_dict['NAME']}",
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "MC_HTTPS": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" + "k" * 60),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "MC_RATE_AGENT": "100000000/min",
    }
    if extra_path is not None:
        env["PYTHONPATH"] = f"{extra_path}{os.pathsep}{ROOT}"
    return env


def wait_up(port: int, proc: subprocess.Popen, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server on {port} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"server on {port} did not start")


def wrk(url: str, seconds: int, connections: int, script: Path | None) -> float:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url]
    if script:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} non-2xx responses\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def setup_fleet(size: int) -> list[str]:
    """A business with ``size`` agents, one key each: a fleet beats with many keys, not one."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mission_control.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    from agents.models import Agent
    from agents.services import create_agent, issue_key
    from governance.models import Business

    business, _ = Business.objects.get_or_create(slug="bench-http", defaults={"name": "Bench HTTP"})
    keys = []
    for n in range(size):
        name = f"bench-{n}"
        agent = Agent.objects.filter(business=business, name=name).first() or create_agent(
            business=business, name=name, capabilities=["bench"]
        )
        keys.append(issue_key(agent=agent, name="bench")[1])
    return keys


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()  # daphne waits for open sockets on SIGTERM; don't let it hold the run
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def serve(kind: str, app: str, port: int, cwd: Path, env: dict) -> subprocess.Popen:
    if kind == "daphne":
        cmd = [sys.executable, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port), app]
    else:
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            app,
        ]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_up(port, proc)
    return proc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--agents", type=int, default=50)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk: apt-get install wrk")
    keys = setup_fleet(args.agents)
    tmp = Path(tempfile.mkdtemp())
    (tmp / "raw_wsgi.py").write_text(RAW_WSGI)
    (tmp / "raw_asgi.py").write_text(RAW_ASGI)
    body = json.dumps({"status": "active", "version": "1.0", "runtime_location": "bench", "running": []})
    script = tmp / "heartbeat.lua"
    # Each request beats as the next agent of the fleet, round robin.
    script.write_text(
        "keys = {" + ", ".join(json.dumps(k) for k in keys) + "}\n"
        f"body = {json.dumps(body)}\n"
        "n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        '  local h = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. keys[(n % #keys) + 1]}\n'
        '  return wrk.format("POST", nil, h, body)\n'
        "end\n"
    )
    env = {
        **os.environ,
        "DEBUG": "0",  # production settings (no query log), without the HTTPS redirect of a TLS proxy
        "SECURE_SSL_REDIRECT": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-" + "k" * 60),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "MC_RATE_AGENT": "100000000/min",  # measure the endpoint, not the rate limit
        "PYTHONPATH": str(ROOT),
    }
    rows = []
    for kind, raw_app, app in (
        ("daphne", "raw_asgi:application", "mission_control.asgi:application"),
        ("gunicorn -w 2", "raw_wsgi:application", "mission_control.wsgi:application"),
    ):
        server = kind.split()[0]
        print(f"… {kind}", file=sys.stderr, flush=True)
        port = free_port()
        proc = serve(server, raw_app, port, tmp, env)
        try:
            raw = wrk(f"http://127.0.0.1:{port}/", args.seconds, args.connections, None)
        finally:
            stop(proc)
        port = free_port()
        proc = serve(server, app, port, ROOT, env)
        try:
            wrk(f"http://127.0.0.1:{port}/api/v1/agent/heartbeat", 2, args.connections, script)  # warm up
            hot = wrk(
                f"http://127.0.0.1:{port}/api/v1/agent/heartbeat", args.seconds, args.connections, script
            )
        finally:
            stop(proc)
        rows.append((kind, raw, hot))
    print(f"{'server':<16}{'raw app req/s':>16}{'heartbeat req/s':>18}{'heartbeat/raw':>16}")
    for kind, raw, hot in rows:
        print(f"{kind:<16}{raw:>16.0f}{hot:>18.0f}{hot / raw:>16.2f}")
    print(f"gunicorn/daphne on heartbeats: {rows[1][2] / rows[0][2]:.2f}x")


if __name__ == "__main__":
    main()
