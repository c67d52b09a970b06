"""Draining a backlog with and without the autoscaler: drain time and replica-seconds.

    DATABASE_URL=postgres://root@127.0.0.1:5432/postgres .venv/bin/python -m bench autoscale [--work 500]

``--work`` executions are queued at once for one pull agent (max 10 replicas) through the ledger's
service, then drained on a virtual clock (time-machine, one-second ticks) by an in-process model of
the simulated fleet: each replica works one execution at a time (claim -> ``--seconds`` of work ->
success report, through ``claim_next`` and ``update_execution``), and the agent's replica count is
what the product says it is. Three runs on fresh rows: fixed at 1 replica, fixed at 10, and
autoscaled from 1 (the beat sweep's ``evaluate_all`` every ``MC_AUTOSCALE_PERIOD_S`` of virtual
time, policy: 5 pending per replica, 30 s cooldown, the default windows). Replica-seconds count
every replica from the first second to the last execution's end. The clock is virtual, so the
figures do not depend on the machine's load; only the wall time does.
"""

import argparse
import time
from datetime import UTC, datetime, timedelta

from bench._setup import throwaway_database

START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def drain(*, mode: str, work: int, seconds: int, index: int) -> dict:
    import time_machine
    from django.conf import settings
    from django.utils import timezone

    from agents.models import Agent
    from agents.services import create_agent
    from autoscaling.services import evaluate_all, save_policy
    from executions.dispatch import claim_next
    from executions.ingestion import update_execution
    from executions.lifecycle import start_execution
    from governance.models import Business

    period = settings.MC_AUTOSCALE_PERIOD_S
    wall = time.perf_counter()
    with time_machine.travel(START + timedelta(days=index), tick=False) as clock:
        business = Business.objects.create(slug=f"bench-drain-{mode}", name=f"Bench drain {mode}")
        scale = 10 if mode == "fixed-10" else 1
        agent = create_agent(
            business=business, name="worker", capabilities=["batch"], scale=scale, max_scale=10,
            heartbeat_timeout_s=86400,
        )  # fmt: skip
        Agent.objects.filter(pk=agent.pk).update(
            last_heartbeat=timezone.now(), offline_after=timezone.now() + timedelta(days=2)
        )
        if mode == "autoscaled":
            save_policy(
                agent=agent, actor="bench", enabled=True, min_replicas=1, max_replicas=10,
                target_pending_per_replica=5, cooldown_s=30,
            )  # fmt: skip
        for n in range(work):
            start_execution(agent=agent, trigger="manual", input={"n": n})
        busy: list[tuple[int, int]] = []  # (execution id, tick it ends)
        tick = replica_seconds = peak = 0
        done = 0
        while done < work:
            if mode == "autoscaled" and tick % period == 0:
                evaluate_all()
            replicas = Agent.objects.values_list("scale", flat=True).get(pk=agent.pk)
            peak = max(peak, replicas)
            replica_seconds += replicas
            for pk, _ in [b for b in busy if b[1] <= tick]:
                update_execution(execution=_row(pk), data={"status": "success", "cost_usd": "0.001"})
                done += 1
            busy = [b for b in busy if b[1] > tick]
            while len(busy) < replicas:
                claimed = claim_next(agent_id=agent.pk)
                if claimed is None:
                    break
                busy.append((claimed.pk, tick + seconds))
            clock.shift(1)
            tick += 1
    return {
        "mode": mode,
        "drain_s": tick,
        "replica_seconds": replica_seconds,
        "peak_replicas": peak,
        "wall_s": round(time.perf_counter() - wall, 1),
    }


def _row(pk: int):
    from executions.models import Execution

    return Execution.objects.get(pk=pk)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench autoscale")
    parser.add_argument("--work", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=6, help="virtual seconds of work per execution")
    args = parser.parse_args(argv)
    with throwaway_database("mc_bench_autoscale"):
        rows = [
            drain(mode=mode, work=args.work, seconds=args.seconds, index=i)
            for i, mode in enumerate(("fixed-1", "fixed-10", "autoscaled"))
        ]
    print(f"{args.work} queued executions, {args.seconds} s of work each (virtual clock):")
    print(f"{'mode':<11} {'drain s':>8} {'replica-s':>10} {'peak':>5} {'wall s':>7}")
    for r in rows:
        print(
            f"{r['mode']:<11} {r['drain_s']:>8} {r['replica_seconds']:>10} {r['peak_replicas']:>5} {r['wall_s']:>7}"
        )
    base, scaled = rows[0], rows[2]
    print(
        f"autoscaled vs fixed-1: drain {scaled['drain_s'] / base['drain_s']:.2f}x the time, "
        f"{scaled['replica_seconds'] / base['replica_seconds']:.2f}x the replica-seconds"
    )
