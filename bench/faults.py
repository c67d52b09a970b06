"""Fault campaign: ``python -m bench faults [--minutes 3] [--agents 12] [--seed 1] [--keep]``.

Runs the Procfile's processes (web on daphne, a Celery worker, beat) on PostgreSQL and a PRIVATE
redis-server it starts on a free port (never the shared one), under load: the simulated fleet
(``manage.py simulate``, on the SDK), a push agent, operators starting work every 2 s, two
every-minute cron jobs (grace 30 s and 300 s) and budgets over everything. Meanwhile it kills -9
and restarts the worker (twice), beat (down 90 s), web, and Redis (restarted empty). Then it stops
the load, lets the sweeps settle and checks the invariants in the database (``bench/_fault_checks``):
nothing started twice, nothing running past its deadline, every budget window whole, every cron
slot accounted for once, rollups equal to the ledger. Prints a table and exits 1 on any FAIL.

Needs ``DATABASE_URL`` pointing at a PostgreSQL server (a throwaway ``mc_faults_<hex>`` database is
made there and dropped after, unless ``--keep``) and ``redis-server`` on the PATH.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench._fault_load import Operators, PushAgent
from bench._fault_stack import Proc, Stack
from bench._fault_ws import StreamClient, stream_complete

CAMPAIGN_ENV = {
    # Short deadlines so abandoned work meets its end within the run.
    "MC_EXECUTION_TIMEOUT_S": "300",
    "MC_EXECUTION_HEARTBEAT_TIMEOUT_S": "30",
    "MC_START_TIMEOUT_S": "60",
    "MC_PUSH_TIMEOUT_S": "5",
    # The push agent listens on loopback, which outbound calls refuse by default (SSRF guard).
    "MC_OUTBOUND_ALLOW": "127.0.0.0/8",
}
BEAT_DOWN_S = 90
SETTLE_S = 100


def _database_urls(name: str) -> tuple[str, str]:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit(
            "bench faults: set DATABASE_URL to a PostgreSQL server, e.g. postgres://root@127.0.0.1:5432/postgres"
        )
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}")), urlunsplit(parts._replace(path="/postgres"))


def _admin(admin_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql)


def _django(stack: Stack) -> None:
    """This process talks to the campaign database (to seed it and check it afterwards)."""
    os.environ.update({k: stack.env[k] for k in ("DATABASE_URL", "REDIS_URL", "MC_VAR_DIR", "MC_TESTING")})
    os.environ.update(CAMPAIGN_ENV)
    os.environ.update(
        CELERY_TASK_ALWAYS_EAGER="0", LOG_LEVEL="ERROR", DJANGO_SETTINGS_MODULE="mission_control.settings"
    )
    import django

    django.setup()


def _seed(stack: Stack, agents: int, logs: Path, push: PushAgent) -> dict:
    from django.contrib.auth import get_user_model

    from agents.services import create_agent, issue_key
    from governance.models import Budget, BudgetPeriod, Business
    from governance.services import issue_operator_token
    from workflows import cron

    user = get_user_model().objects.create_superuser("faults", "faults@example.com", "pw-faults-123")
    token = issue_operator_token(user=user, name="faults")[1]
    business = Business.objects.create(name="Faults", slug="faults")
    Budget.objects.create(business=business, period=BudgetPeriod.MONTH, limit_usd=Decimal("100000"))
    cap = {"max_cost_per_execution_usd": Decimal("0.05")}
    styles = ["pull", "pull", "autonomous", "pull", "flaky"]
    profiles, pulls = [], []
    for n in range(agents):
        agent = create_agent(business=business, name=f"sim-{n}", capabilities=["code"], mode="pull", **cap)
        pulls.append(agent)
        style = styles[n % len(styles)]
        profiles.append(
            {"name": agent.name, "business": business.slug, "key": issue_key(agent=agent)[1],
             "capabilities": ["code"], "model": "gpt-4o-mini", "provider": "openai", "style": style}
        )  # fmt: skip
    pusher = create_agent(business=business, name="pusher", mode="push", endpoint_url=push.url, **cap)
    push.key = issue_key(agent=pusher)[1]
    for agent in (pusher, pulls[0], pulls[1]):
        Budget.objects.create(
            business=business, agent_id=agent.pk, period=BudgetPeriod.DAY, limit_usd=Decimal("10000")
        )
    every = "* * * * *"
    cron.create_job(
        business=business,
        name="push-minutely",
        schedule=every,
        agent=pusher,
        overlap="allow",
        grace_seconds=30,
    )
    cron.create_job(
        business=business,
        name="pull-minutely",
        schedule=every,
        agent=pulls[0],
        overlap="skip",
        grace_seconds=300,
    )
    fleet = logs / "fleet.json"
    fleet.write_text(json.dumps({"agents": profiles}))
    return {
        "business": business,
        "token": token,
        "fleet": fleet,
        "run_on": [pusher.pk, pulls[1].pk, pulls[3].pk],
    }


def _faults(
    stack: Stack, push: PushAgent, operators: Operators, push_agent_id: int, duration: float
) -> list[tuple[float, float, str, callable, callable]]:
    """``(at, down_for, what, kill, restart)``, at and down_for in seconds from the load's start."""
    beat_down = BEAT_DOWN_S if duration >= 150 else duration * 0.5

    def redis_kill():
        stack.redis.kill9()

    def worker_kill_mid_push():
        # While a delivery's POST waits for its answer; that agent takes its time to report, so
        # the lost delivery is sent again first (and must say it is a redelivery).
        push.in_flight.clear()
        operators.start_work(push_agent_id)  # work for the push agent now, so a delivery is on its way
        if push.in_flight.wait(timeout=30):
            push.slow.add(push.current)
        stack.worker.kill9()

    return [
        (0.12 * duration, 10, "kill -9 worker", stack.worker.kill9, stack.worker.start),
        (
            0.22 * duration,
            beat_down,
            f"kill -9 beat ({beat_down:.0f} s down)",
            stack.beat.kill9,
            stack.beat.start,
        ),
        (0.40 * duration, 5, "kill -9 web", stack.web.kill9, stack.web.start),
        (0.55 * duration, 10, "kill -9 redis, restart empty", redis_kill, stack.start_redis),
        # Late, with beat back: the redispatch sweep must resend what the dead worker was sending.
        (0.78 * duration, 8, "kill -9 worker mid push delivery", worker_kill_mid_push, stack.worker.start),
    ]


def _run_faults(
    stack: Stack, push: PushAgent, operators: Operators, push_agent_id: int, duration: float
) -> list[str]:
    """Each fault on its own thread (they overlap): wait for its time, kill, stay down, restart."""
    done: list[str] = []
    lock = threading.Lock()

    def say(what: str) -> None:
        with lock:
            done.append(f"{time.monotonic() - started:6.1f}s {what}")
            print(f"  {done[-1]}", flush=True)

    def run(at: float, down: float, what: str, kill, restart) -> None:
        time.sleep(max(0.0, started + at - time.monotonic()))
        kill()
        say(f"  {what}")
        time.sleep(down)
        restart()
        say(f"restarted: {what}")

    started = time.monotonic()
    plan = _faults(stack, push, operators, push_agent_id, duration)
    threads = [threading.Thread(target=run, args=fault, daemon=True) for fault in plan]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(max(0.0, started + duration - time.monotonic()))
    return done


def _drain(business_id: int, limit_s: float) -> float:
    from executions.models import Execution

    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        if not Execution.objects.filter(business_id=business_id).active().exists():
            break
        time.sleep(3)
    return time.monotonic() - started


def _check(
    business_id: int, push: PushAgent, until, stream: StreamClient, until_id: int
) -> list[tuple[str, bool, str]]:
    from bench import _fault_checks as checks

    return [
        ("no execution claimed or started twice", *checks.started_once(business_id)),
        ("no push delivery sent twice as new work", *checks.pushed_once(dict(push.deliveries))),
        ("none running past its deadline", *checks.none_past_deadline(business_id, slack_s=30)),
        ("reserved = live holds, spent = ledger", *checks.budgets_whole(business_id)),
        ("every cron slot fired or missed once", *checks.cron_slots_once(business_id, until)),
        ("rollups = ledger", *checks.rollups_match(business_id)),
        ("websocket client missed nothing", *stream_complete(stream, business_id, until_id)),
    ]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench faults", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3, help="how long the load and faults run")
    parser.add_argument("--agents", type=int, default=12, help="simulated agents in the fleet")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--drain", type=float, default=150, help="seconds at most for live work to end after")
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs")
    args = parser.parse_args(argv)
    if args.agents < 5:
        parser.error("--agents: at least 5 (operators start work on three of them)")
    if not shutil.which("redis-server"):
        sys.exit("bench faults: redis-server is not on the PATH")
    name = f"mc_faults_{uuid.uuid4().hex[:8]}"
    url, admin_url = _database_urls(name)
    logs = Path(tempfile.mkdtemp(prefix="mc-faults-"))
    _admin(admin_url, f'CREATE DATABASE "{name}"')
    stack = Stack(database_url=url, logs=logs, env_extra=CAMPAIGN_ENV)
    stop, stop_stream = threading.Event(), threading.Event()
    push = PushAgent(base_url=stack.url, key="", stop=stop)
    fleet = None
    failed = True
    try:
        print(f"faults: database {name}, redis :{stack.redis_port}, web {stack.url}, logs {logs}", flush=True)
        stack.start_redis()
        stack.manage("migrate", "--noinput", "-v0")
        stack.manage("setup_periodic_tasks")
        _django(stack)
        seeded = _seed(stack, args.agents, logs, push)
        business_id = seeded["business"].pk
        for proc in (stack.web, stack.worker, stack.beat):
            proc.start()
        print(f"  web healthy after {stack.wait_healthy():.1f} s", flush=True)
        from mission_control.models import Event

        stream = StreamClient(
            ws_url=stack.url.replace("http", "ws", 1),
            token=seeded["token"],
            business="faults",
            after=Event.objects.order_by("-id").values_list("id", flat=True).first() or 0,
            stop=stop_stream,
        )
        stream.thread.start()
        fleet = Proc(
            "fleet",
            [sys.executable, "manage.py", "simulate", "--url", stack.url, "--fleet", str(seeded["fleet"]),
             "--speed", "3", "--seed", str(args.seed)],
            stack.env,
            logs,
        )  # fmt: skip
        fleet.start()
        operators = Operators(
            base_url=stack.url, token=seeded["token"], agent_ids=seeded["run_on"], stop=stop
        )
        operators.thread.start()
        duration = args.minutes * 60
        print(f"  load on for {duration:.0f} s; faults:", flush=True)
        _run_faults(stack, push, operators, seeded["run_on"][0], duration)
        from django.utils import timezone

        from workflows.models import CronJob

        stop.set()
        fleet.stop()
        # Cron keeps firing while the catch-up sweep (60 s behind, every 30 s) accounts for the
        # last outages' slots and the slow push agent reports; then the jobs stop for the checks.
        print(f"  load stopped; cron on for {SETTLE_S} s more", flush=True)
        time.sleep(SETTLE_S)
        until = timezone.now()
        CronJob.objects.filter(business_id=business_id).update(enabled=False)  # beat skips from now
        drained = _drain(business_id, args.drain)
        until_id = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
        # One more pass of the sweeps (cron catch-up every 30 s, timeouts every 15 s), and of the
        # stream client's reconnect (every 30 s) so it has had its chance to catch up to until_id.
        time.sleep(35)
        stop_stream.set()
        stream.thread.join(timeout=10)
        print(f"  cron stopped; live work drained in {drained:.0f} s", flush=True)
        rows = _check(business_id, push, until - timedelta(seconds=5), stream, until_id)
        failed = _report(rows, business_id, push, operators, logs)
    finally:
        stop.set()
        stop_stream.set()
        if fleet is not None:
            fleet.stop()
        push.close()
        stack.stop_all()
        if not args.keep:
            from django.db import connections

            connections.close_all()
            _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(logs, ignore_errors=True)
        else:
            print(f"kept: database {name}, logs {logs}")
    sys.exit(1 if failed else 0)


def _conflicts_logged(logs: Path) -> dict[str, int]:
    """Lost deadlocks and write conflicts each process logged (0 everywhere is the aim)."""
    found = {}
    for log in sorted(logs.glob("*.log")):
        text = log.read_text(errors="replace").lower()
        found[log.stem] = text.count("deadlock detected") + text.count("write conflict")
    return found


def _report(rows, business_id: int, push: PushAgent, operators: Operators, logs: Path) -> bool:
    from bench._fault_checks import ledger_summary

    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'invariant'.ljust(width)}  result  figures")
    for name, ok, figure in rows:
        print(f"{name.ljust(width)}  {'ok    ' if ok else 'FAIL  '}  {figure}")
    print()
    print(f"ledger: {ledger_summary(business_id)}")
    print(f"operators' answers: {dict(operators.codes)}; push agent's reports: {dict(push.codes)}")
    print(f"deadlocks and write conflicts in the logs: {_conflicts_logged(logs)}")
    return not all(ok for _, ok, _ in rows)
