"""Cost-aware routing: how long one decision takes among 1,000 candidates, and what routing saves
per successful execution against round robin over the same work.

    DATABASE_URL=postgres://root@127.0.0.1:5432/postgres .venv/bin/python -m bench routing \\
        [--candidates 1000] [--repeat 30] [--work 400]

1. Decision time: 1,000 online agents with one capability, each with 24 h of rolled-up history
   (hourly rollup rows, as observability keeps them). Timed: the scoring and choice alone
   (``score`` + ``choose``, the < 5 ms target) and the whole decision (``decide``: candidates, their
   figures, queues, policies and budgets read from PostgreSQL, then scored). Medians and p95.
2. Cost per success: six agents whose true cost per run and success rate are hidden from the router
   (a cheap flaky one, a cheap good one, dear good ones, a middling one); ``--work`` executions,
   each started through the router (``route_execution``, exploration 5 %) or by round robin, then
   finished through the ledger with the agent's cost and an outcome drawn from its success rate (so
   the rollups, and the router's figures, learn as they go). Same seed, same draws per agent.
"""

import argparse
import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal

from bench._setup import throwaway_database

FLEET = [  # name, true cost per run (USD), true success rate
    ("cheap-flaky", "0.004", 0.35),
    ("cheap-good", "0.006", 0.95),
    ("middling", "0.010", 0.85),
    ("dear-good", "0.020", 0.97),
    ("dear-flaky", "0.025", 0.60),
    ("premium", "0.040", 0.99),
]


def _online(agents) -> None:
    from django.utils import timezone

    from agents.models import Agent

    now = timezone.now()
    Agent.objects.filter(pk__in=[a.pk for a in agents]).update(
        last_heartbeat=now, offline_after=now + timedelta(hours=2)
    )


def decision_time(candidates: int, repeat: int) -> dict:
    from django.conf import settings
    from django.utils import timezone

    from agents.models import Agent
    from executions import routing
    from executions.models import RoutingSettings
    from governance.models import Business
    from observability.models import HourlyRollup
    from observability.rollups import floor_hour

    business = Business.objects.create(slug="bench-route", name="Bench routing")
    RoutingSettings.objects.create(business=business, explore_share=Decimal("0.05"))
    rng = random.Random(7)
    agents = Agent.objects.bulk_create(
        Agent(
            business=business,
            name=f"a{n}",
            capabilities=["summarise"],
            scale=rng.randint(1, 4),
            heartbeat_timeout_s=86400,
        )
        for n in range(candidates)
    )
    _online(agents)
    hour = floor_hour(timezone.now()) - timedelta(hours=1)
    HourlyRollup.objects.bulk_create(
        HourlyRollup(
            business=business, agent=a, model="m", hour=hour, executions=(n := rng.randint(0, 60)),
            success=int(n * rng.uniform(0.4, 1)), cost_e8=int(n * rng.uniform(0.002, 0.05) * 1e8),
            duration_ms_sum=n * rng.randint(2000, 30000), duration_count=n,
        )
        for a in agents
    )  # fmt: skip
    pure, whole = [], []
    picker = random.Random(1)
    listed = routing.candidates_for(business=business, capability="summarise", trigger="manual")
    for _ in range(repeat):
        fresh = [
            routing.Candidate(agent=c.agent, figures=c.figures, queue_ahead=c.queue_ahead) for c in listed
        ]
        began = time.perf_counter()
        routing.score(fresh, max_wait_s=600, prior_weight=settings.MC_ROUTING_PRIOR_WEIGHT)
        routing.choose(fresh, share=0.05, rng=picker)
        pure.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        routing.decide(
            business=business, capability="summarise", trigger="manual", max_wait_s=600, rng=picker
        )
        whole.append((time.perf_counter() - began) * 1000)

    def p95(xs):
        return sorted(xs)[max(0, int(len(xs) * 0.95) - 1)]

    return {
        "score_choose_median_ms": statistics.median(pure),
        "score_choose_p95_ms": p95(pure),
        "decide_median_ms": statistics.median(whole),
        "decide_p95_ms": p95(whole),
    }


def cost_per_success(mode: str, work: int, seed: int) -> dict:
    from agents.services import create_agent
    from executions.ingestion import update_execution
    from executions.lifecycle import start_execution
    from executions.models import RoutingSettings
    from executions.routing import route_execution
    from governance.models import Business

    business = Business.objects.create(slug=f"bench-{mode}", name=f"Bench {mode}")
    RoutingSettings.objects.create(business=business, explore_share=Decimal("0.05"))
    agents = [
        create_agent(business=business, name=name, capabilities=["summarise"], heartbeat_timeout_s=86400)
        for name, _, _ in FLEET
    ]
    _online(agents)
    truth = {a.pk: (Decimal(cost), rate) for a, (_, cost, rate) in zip(agents, FLEET, strict=True)}
    draws = {a.pk: random.Random(f"{seed}-{a.name}") for a in agents}  # same outcomes per agent either way
    chooser = random.Random(seed)
    spent, successes, picks = Decimal(0), 0, {a.name: 0 for a in agents}
    for n in range(work):
        if mode == "routing":
            execution = route_execution(
                business=business, capability="summarise", trigger="manual", input={"n": n}, rng=chooser
            )
        else:
            execution = start_execution(agent=agents[n % len(agents)], trigger="manual", input={"n": n})
        cost, rate = truth[execution.agent_id]
        ok = draws[execution.agent_id].random() < rate
        update_execution(execution=execution, data={"status": "running"})
        update_execution(
            execution=execution,
            data={"status": "success" if ok else "failed", "cost_usd": str(cost), "error": "" if ok else "x"},
        )
        spent += cost
        successes += ok
        picks[execution.agent.name] += 1
    return {
        "mode": mode,
        "spent": spent,
        "successes": successes,
        "per_success": spent / max(successes, 1),
        "picks": picks,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench routing")
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--work", type=int, default=400)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)
    with throwaway_database("mc_bench_routing"):
        timing = decision_time(args.candidates, args.repeat)
        runs = [cost_per_success(mode, args.work, args.seed) for mode in ("round-robin", "routing")]
    print(f"decision among {args.candidates} candidates ({args.repeat} runs):")
    print(
        f"  score + choose: median {timing['score_choose_median_ms']:.2f} ms, p95 {timing['score_choose_p95_ms']:.2f} ms"
    )
    print(
        f"  whole decision (with its queries): median {timing['decide_median_ms']:.1f} ms, p95 {timing['decide_p95_ms']:.1f} ms"
    )
    print(f"cost per successful execution over {args.work} executions:")
    for r in runs:
        print(
            f"  {r['mode']:<12} ${r['per_success']:.6f} (${r['spent']} for {r['successes']} successes) picks {r['picks']}"
        )
    rr, routed = runs
    print(f"  routing / round robin: {routed['per_success'] / rr['per_success']:.2f}x the cost per success")
