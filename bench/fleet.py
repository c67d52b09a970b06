"""How many agents one machine holds: the Procfile's processes against a simulated fleet.

    DATABASE_URL=postgres://root@127.0.0.1:5432/postgres .venv/bin/python -m bench fleet \\
        --agents 1000,2000,5000,10000 [--minutes 3] [--every 15] [--connections 64]

Runs web (daphne), agents (WSGI workers, the Procfile's command), worker and beat as the Procfile
does (production settings), on a throwaway database and a private ``redis-server``, routes the agents'
short paths (heartbeats, reports) to ``agents`` as the README's load balancer does, and long-polling
claims and operators' calls to ``web`` (``--layout web`` sends everything to daphne, the layout before
the ``agents`` process). It plays each fleet size in turn for ``--minutes``: every
agent heartbeats every ``--every`` seconds (spread evenly), agents report finished work at about 5
reports per second per 1,000 agents (``POST /executions/`` with an ``external_id``), and one pull
agent in a hundred long-polls for work that an operator starts for it (``/run`` then ``claim``),
then reports it done. The load generator (``bench._loadgen``) is one asyncio process sharing
``--connections`` keep-alive connections, as a proxy in front of the fleet would.

Each size starts with a warm-up that is not counted: the agents join at ``--join-rate`` per second
(50; at least over one heartbeat interval), each with a first beat that writes rows, and the clock
starts 5 s after the last first beat; the first beats' latencies are printed apart. A size is *held* when the heartbeat p99 stays under 250 ms with no error (any non-2xx answer or a
broken connection) and no lost report (every report answered 201/200 is in the ledger, counted in
the database at the end). It prints each size with its latencies, the CPU each process used (share
of one core; PostgreSQL's backends serving the benchmark's database and the load generator's own
too, since they share the cores) and the largest RSS of web
and of agents (all its workers), then the largest size held. The machine is shared: the load
average is printed beside each run.
"""

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench._fault_stack import Proc, Stack
from bench._loadgen import Connection, Tally
from bench._procfile import command
from bench.http_servers import free_port

GOAL_P99_S = 0.25
SETTLE_S = 5.0
TICK = os.sysconf("SC_CLK_TCK")


def tree_pids(pid: int) -> list[int]:
    """The process and its descendants (the worker forks its pool)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return pids


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    return total


def rss_mib(pid: int) -> float:
    """Resident memory of the process and its children (granian's workers)."""
    total = 0.0
    for p in tree_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def database_cpu_seconds(dbname: str) -> dict[int, float]:
    """CPU of each PostgreSQL backend serving ``dbname`` (the processes' pooled connections), by pid."""
    seconds = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if not title.startswith("postgres:") or f" {dbname} " not in title:
                continue
            seconds[int(entry.name)] = cpu_seconds(int(entry.name))
        except OSError:
            continue
    return seconds


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Pool:
    """``size`` keep-alive connections handed out one request at a time."""

    def __init__(self, port: int, size: int):
        self.free: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(size):
            self.free.put_nowait(Connection("127.0.0.1", port))

    async def request(self, method: str, path: str, body: dict | None, token: str):
        conn = await self.free.get()
        try:
            data = json.dumps(body).encode() if body is not None else b""
            return await conn.request(method, path, data, {"Authorization": f"Bearer {token}"})
        finally:
            self.free.put_nowait(conn)


def make_fleet(size: int, prefix: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]], str]:
    """``size`` agents with a key each (a hundredth of them pull agents for claims), and an
    operator token. Rows are written in bulk: 10,000 agents through the service (an event and an
    audit entry each) would take longer than the run."""
    from django.contrib.auth import get_user_model

    from agents.models import Agent, AgentKey, AgentMode
    from governance.models import Business, Membership
    from governance.services import issue_operator_token
    from mission_control.secrets import hash_secret

    business = Business.objects.create(name=f"Fleet {prefix}", slug=f"fleet-{prefix}")
    user = get_user_model().objects.create_user(f"op-{prefix}", password=uuid.uuid4().hex)
    Membership.objects.create(user=user, business=business, role="operator")
    token = issue_operator_token(user=user, name="bench")[1]
    agents = Agent.objects.bulk_create(
        [
            Agent(business=business, name=f"{prefix}-{n}", mode=AgentMode.PULL, capabilities=["bench"])
            for n in range(size)
        ],
        batch_size=2000,
    )
    raws = [f"mca_{uuid.uuid4().hex}{uuid.uuid4().hex}" for _ in agents]
    AgentKey.objects.bulk_create(
        [
            AgentKey(agent=a, prefix=raw[:12], key_hash=hash_secret(raw))
            for a, raw in zip(agents, raws, strict=True)
        ],
        batch_size=2000,
    )
    pairs = [(a.pk, raw) for a, raw in zip(agents, raws, strict=True)]
    return pairs, pairs[:: max(1, 100)], token


async def play(
    port: int,
    agents_port: int,
    fleet,
    pullers,
    token: str,
    seconds: float,
    every: float,
    connections: int,
    work: bool = True,
    ramp: float = 0.0,
) -> dict:
    pool = Pool(port, max(4, connections // 8))  # operators' calls, on web
    agent_pool = Pool(agents_port, connections)  # the agents' short paths, on agents (or web)
    beats, reports, claims = Tally(), Tally(), Tally()
    stored_ids: list[str] = []
    slow: list[int] = []  # when (s into the run) a beat took over a second
    errors: list[str] = []
    # Every agent beats once before anything counts: a first beat (a cold cache, a row write, an
    # agent.online event) is not the steady state the goal speaks of. The clock starts SETTLE_S
    # after the last first beat is answered (the beats queued behind the last first beats drain);
    # the first beats' own latencies are printed apart.
    clock = {"from": float("inf"), "stop": float("inf")}
    first_beats = [len(fleet)]
    firsts = Tally()

    def first_beat_done() -> None:
        first_beats[0] -= 1
        if first_beats[0] == 0:
            clock["from"] = time.monotonic() + SETTLE_S
            clock["stop"] = clock["from"] + seconds

    body = {"status": "idle", "version": "1.0", "runtime_location": "bench", "running": []}

    async def agent(pk: int, key: str, offset: float) -> None:
        await asyncio.sleep(offset)
        first = True
        while time.monotonic() < clock["stop"]:
            started = time.perf_counter()
            try:
                answer = await agent_pool.request("POST", "/api/v1/agent/heartbeat", body, key)
                took = time.perf_counter() - started
                if first:
                    firsts.add(answer.status, took)
                if time.monotonic() >= clock["from"] or answer.status != 200:
                    beats.add(answer.status, took)
                    if took > 1.0:
                        slow.append(round(time.monotonic() - clock["from"]))
                if answer.status != 200:
                    errors.append(f"heartbeat {answer.status}")
            except Exception as exc:
                beats.errors += 1
                errors.append(f"heartbeat {type(exc).__name__}")
            if first:
                first = False
                first_beat_done()
            await asyncio.sleep(max(0.0, every - (time.perf_counter() - started)))

    async def reporter(rate: float) -> None:
        # Open loop: reports arrive at ``rate`` whatever the server's pace (each one its own task),
        # as a fleet's do; waiting for each answer would send a slow server fewer than asked.
        sent: set[asyncio.Task] = set()
        n = 0
        while time.monotonic() < clock["stop"]:
            await asyncio.sleep(random.expovariate(rate))
            n += 1
            task = asyncio.create_task(report_once(n))
            sent.add(task)
            task.add_done_callback(sent.discard)
        await asyncio.gather(*sent)

    async def report_once(n: int) -> None:
        pk, key = random.choice(fleet)
        ext = f"r-{pk}-{n}-{uuid.uuid4().hex[:6]}"
        report = {
            "external_id": ext,
            "status": "success",
            "model": "gpt-4o-mini",
            "model_provider": "openai",
            "input_tokens": 1200,
            "output_tokens": 150,
            "duration_ms": 2300,
            "input": {"ticket": n},
            "output": {"label": "billing"},
        }
        started = time.perf_counter()
        try:
            answer = await agent_pool.request("POST", "/api/v1/executions/", report, key)
            reports.add(answer.status, time.perf_counter() - started)
            if answer.status in (200, 201):
                stored_ids.append(ext)
            else:
                errors.append(f"report {answer.status}")
        except Exception as exc:
            reports.errors += 1
            errors.append(f"report {type(exc).__name__}")

    async def puller(pk: int, key: str) -> None:
        # Long-polls on its own connection: a waiting claim must not hold one of the shared ones.
        conn = Connection("127.0.0.1", port)
        while time.monotonic() < clock["stop"]:
            started = time.perf_counter()
            try:
                answer = await conn.request(
                    "POST",
                    "/api/v1/agent/executions/claim",
                    json.dumps({"wait_seconds": 10}).encode(),
                    {"Authorization": f"Bearer {key}"},
                )
            except Exception as exc:
                claims.errors += 1
                errors.append(f"claim {type(exc).__name__}")
                conn.close()
                continue
            claims.add(answer.status, time.perf_counter() - started)
            if answer.status == 200:
                execution = json.loads(answer.body)
                done = {"status": "success", "output": {"ok": True}, "input_tokens": 10, "output_tokens": 5}
                finished = await agent_pool.request(
                    "PATCH", f"/api/v1/executions/{execution['id']}", done, key
                )
                if finished.status != 200:
                    errors.append(f"finish {finished.status}")
            elif answer.status != 204:
                errors.append(f"claim {answer.status}")
        conn.close()

    async def operator() -> None:
        while time.monotonic() < clock["stop"] - 12:
            await asyncio.sleep(1.0)
            pk, _ = random.choice(pullers)
            answer = await pool.request("POST", f"/api/v1/agents/{pk}/run", {"input": {"n": 1}}, token)
            if answer.status != 202:
                errors.append(f"run {answer.status}")

    tasks = [agent(pk, key, random.uniform(0, max(every, ramp))) for pk, key in fleet]
    if work:
        tasks += [puller(pk, key) for pk, key in pullers[:20]]
        tasks += [reporter(5 * len(fleet) / 1000), operator()]
    await asyncio.gather(*tasks)
    return {
        "beats": beats,
        "first_beats": firsts,
        "reports": reports,
        "claims": claims,
        "stored": stored_ids,
        "errors": errors,
        "slow": sorted(set(slow)),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench fleet")
    parser.add_argument("--agents", default="1000,2000,5000,10000", help="fleet sizes to play, in turn")
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--every", type=float, default=15, help="heartbeat interval, seconds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--join-rate",
        type=float,
        default=50,
        help="agents joining per second during the warm-up (a first beat writes rows; a whole fleet"
        " beating for the first time within one interval is a cold start, measured apart)",
    )
    parser.add_argument("--heartbeats-only", action="store_true", help="no reports, claims or runs")
    parser.add_argument(
        "--layout",
        choices=["agents", "web"],
        default="agents",
        help="agents: the agents' short paths go to the Procfile's WSGI `agents` process; web: all to daphne",
    )
    parser.add_argument(
        "--pooler",
        metavar="HOST:PORT",
        help="the processes reach PostgreSQL through this PgBouncer (transaction mode) instead",
    )
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("bench fleet: set DATABASE_URL to a PostgreSQL server")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mission_control.settings")
    from bench._setup import throwaway_database

    with throwaway_database("mc_bench_fleet"):
        from django.db import connection

        base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
        extra = {}
        if args.pooler:  # same user, the pooler's address; the benchmark itself stays direct
            base = base.rsplit("@", 1)[0] + "@" + args.pooler
            extra["MC_DB_TRANSACTION_POOLER"] = "1"
        logs = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
        stack = Stack(
            database_url=f"{base}/{connection.settings_dict['NAME']}",
            logs=logs,
            env_extra={
                "DEBUG": "0",
                "MC_HTTPS": "0",
                "SECRET_KEY": "bench-" + "k" * 60,
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                **extra,
            },
        )
        try:
            stack.start_redis()
            stack.manage("setup_periodic_tasks")
            agents_port = free_port()
            stack.agents = Proc("agents", command("agents", {**stack.env, "AGENTS_PORT": str(agents_port)}),
                                stack.env, logs)  # fmt: skip
            stack.agents_port = agents_port if args.layout == "agents" else stack.web_port
            for proc in (stack.web, stack.agents, stack.worker, stack.beat):
                proc.start()
            stack.wait_healthy()
            wait_port(agents_port)
            print(
                f"layout: {args.layout}; agents: {' '.join(stack.agents.argv[2:])};"
                f" database: {'PgBouncer at ' + args.pooler if args.pooler else 'direct'}",
                flush=True,
            )
            results = [run_size(stack, int(n), args) for n in args.agents.split(",")]
        finally:
            stack.agents.stop()
            stack.stop_all()
        held = [r["agents"] for r in results if r["held"]]
        print(f"largest fleet held: {max(held) if held else 'none'} agents (logs: {logs})")


def wait_port(port: int, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise RuntimeError(f"nothing listens on {port} (see agents.log)")


def run_size(stack: Stack, size: int, args) -> dict:
    from django.db import connection

    from executions.models import Execution

    fleet, pullers, token = make_fleet(size, f"f{size}")
    connection.close()
    procs = {"web": stack.web, "agents": stack.agents, "worker": stack.worker, "beat": stack.beat}
    procs["redis"] = stack.redis
    dbname = connection.settings_dict["NAME"]
    cpu_before = {name: cpu_seconds(p.popen.pid) for name, p in procs.items()}
    db_before = database_cpu_seconds(dbname)
    own_before = own_cpu_seconds()
    load_before = os.getloadavg()[0]
    began = time.monotonic()
    rss_peak = {"web": 0.0, "agents": 0.0}

    async def sample_rss() -> None:
        while time.monotonic() - began < args.minutes * 60 + max(args.every, size / args.join_rate) + 10:
            for name in rss_peak:
                rss_peak[name] = max(rss_peak[name], rss_mib(procs[name].popen.pid))
            await asyncio.sleep(2)

    async def both():
        outcome, _ = await asyncio.gather(
            play(
                stack.web_port,
                stack.agents_port,
                fleet,
                pullers,
                token,
                args.minutes * 60,
                args.every,
                args.connections,
                work=not args.heartbeats_only,
                ramp=size / args.join_rate,
            ),
            sample_rss(),
        )
        return outcome

    outcome = asyncio.run(both())
    wall = time.monotonic() - began
    cpu = {name: (cpu_seconds(p.popen.pid) - cpu_before[name]) / wall for name, p in procs.items()}
    db_after = database_cpu_seconds(dbname)  # backends that ended meanwhile are not counted
    cpu["postgres"] = sum(after - db_before.get(pid, 0.0) for pid, after in db_after.items()) / wall
    cpu["load generator"] = (own_cpu_seconds() - own_before) / wall
    stored = Execution.objects.filter(external_id__in=outcome["stored"]).count()
    lost = len(outcome["stored"]) - stored
    beats = outcome["beats"]
    p99 = beats.percentile(99)
    held = p99 < GOAL_P99_S and not outcome["errors"] and lost == 0
    print(
        f"{size:>6} agents  heartbeats {beats.count:>7} p50 {beats.percentile(50) * 1000:6.1f} ms"
        f" p99 {p99 * 1000:7.1f} ms (first beats p50 {outcome['first_beats'].percentile(50) * 1000:.0f} ms,"
        f" p99 {outcome['first_beats'].percentile(99) * 1000:.0f} ms)"
        f" | reports {len(outcome['stored'])} ({outcome['reports'].count / wall:.1f}/s over the run, asked"
        f" {5 * size / 1000:.0f}/s; lost {lost},"
        f" p99 {outcome['reports'].percentile(99) * 1000:.0f} ms) | claims {outcome['claims'].statuses}"
        f" | errors {len(outcome['errors'])} {sorted(set(outcome['errors']))[:4]}"
        f" | CPU (share of one core) {', '.join(f'{name} {share:.0%}' for name, share in cpu.items())}"
        f" | RSS peak web {rss_peak['web']:.0f} MiB, agents {rss_peak['agents']:.0f} MiB"
        f" | load {load_before:.1f}->{os.getloadavg()[0]:.1f}"
        f" | {'HELD' if held else 'not held'}"
        + (
            f"\n        beats over 1 s at (s into the run): {outcome['slow'][:40]}" if outcome["slow"] else ""
        ),
        flush=True,
    )
    connection.close()
    return {"agents": size, "held": held}
