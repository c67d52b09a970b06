"""``python -m bench prediction [--days 8] [--test-days 3] [--agents 6] [--seed 7]``: lead time and
precision of the failure model against the naive baseline on simulated fleet scenarios.

A throwaway database gets ``--days`` of a simulated fleet (``intelligence.scenarios``: slow
degradations, provider outages, bad deploys, harmless deploys, 5 % background failures) reported
through the batch ingestion service. The model trains on the days before the last ``--test-days``
(the same ``training.train`` as beat and the command); then, at every execution start of the test
days, the subject is scored with the same features and model as the scoring sweep, and the
baseline (its failure rate over its last 20 executions) with the same threshold.

Per incident, the *burst* is the first moment at least 3 of the agent's last 5 executions had failed;
the *lead* is how long (minutes, executions) before it the agent was first flagged within the
incident's window. *Precision* counts flag episodes (an agent going from unflagged to flagged): true
when the agent is inside an incident's window then.
"""

import argparse
import random
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import numpy as np

from bench._setup import throwaway_database

EVERY_S = 300
BURST_OF, BURST_IN = 3, 5
WINDOW_MARGIN_S = 30 * 60


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench prediction")
    parser.add_argument("--days", type=float, default=8)
    parser.add_argument("--test-days", type=float, default=3)
    parser.add_argument("--agents", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    with throwaway_database("mc_bench_prediction"):
        run(args)


def run(args) -> None:
    from agents.services import create_agent
    from governance.models import Business
    from intelligence import features as F
    from intelligence import history as H
    from intelligence import scenario_history, training
    from intelligence.scenarios import plan

    rng = random.Random(args.seed)
    business = Business.objects.create(name="Bench", slug="bench")
    providers = [("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-haiku")]
    agents = []
    for i in range(args.agents):
        provider, model = providers[i % 2]
        agents.append(
            (create_agent(business=business, name=f"agent-{i}", capabilities=["work"]), provider, model)
        )
    length = args.days * 86400
    timeline = plan([(a.name, p) for a, p, _ in agents], length_s=length, rng=rng, incidents_per_day=4)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    began = time.monotonic()
    written = scenario_history.write(
        agents=agents, timeline=timeline, start=start, every_s=EVERY_S, rng=rng, key="bench"
    )
    print(
        f"history: {written:,} executions over {args.days:g} days, {len(timeline.incidents)} incidents, "
        f"written through the batch ingestion service in {time.monotonic() - began:.0f} s (loaded machine)"
    )
    split = length - args.test_days * 86400
    model, _ = training.train(business=business, now=start + timedelta(seconds=split))
    m, b = model.metrics, model.baseline_metrics
    print(
        f"model v{model.version} trained on the first {(split / 86400):g} days ({model.train_samples:,} samples, "
        f"tested on {model.test_samples:,} later ones): {model.verdict}"
    )
    print(f"  {'':<10}{'ROC AUC':>9}{'precision':>11}{'recall':>8}{'Brier':>8}")
    for name, row in (("model", m), ("baseline", b)):
        print(
            f"  {name:<10}{row['roc_auc']:>9.3f}{row['precision']:>11.3f}{row['recall']:>8.3f}{row['brier']:>8.3f}"
        )

    fitted = training.estimator(model)
    history = H.load(business.pk, since=start, until=start + timedelta(seconds=length + 3600))
    t0 = start.timestamp()
    flags = {}  # agent name -> [(t (timeline s), model p, baseline p)]
    names = {str(a.pk): a.name for a, _, _ in agents}
    for (_, key), tl in history.agent_timelines().items():
        points = []
        for started, _ in history.starts.get(int(key), []):
            if started - t0 < split:
                continue
            values = F.compute(tl, started, presence=history.presence, providers=history.providers)
            if values is not None:
                points.append((started - t0, F.vector(values), values["fail_rate_last20"]))
        if points:
            probabilities = fitted.predict_proba(np.array([p[1] for p in points]))[:, 1]
            flags[names[key]] = [
                (t, float(p), base) for (t, _, base), p in zip(points, probabilities, strict=True)
            ]
    outcomes = {names[str(k)]: [(s - t0, failed) for s, failed in v] for k, v in history.starts.items()}
    report(timeline, agents, flags, outcomes, split, model.threshold)


def burst_at(runs: list[tuple[float, bool]], since: float, until: float) -> float | None:
    recent: list[bool] = []
    for t, failed in runs:
        if t < since - 3600:
            continue
        if t > until:
            return None
        recent = [*recent, failed][-BURST_IN:]
        if t >= since and sum(recent) >= BURST_OF:
            return t
    return None


def report(timeline, agents, flags, outcomes, split, threshold) -> None:
    provider_of = {a.name: p for a, p, _ in agents}
    windows = defaultdict(list)  # agent -> [(from, to)] of incident windows
    rows = defaultdict(lambda: {"incidents": 0, "model": [], "baseline": []})
    for incident in timeline.incidents:
        if incident.onset_s < split:
            continue
        hit = [
            a
            for a, p in provider_of.items()
            if (p if incident.scenario == "provider_outage" else a) == incident.target
        ]
        for agent in hit:
            windows[agent].append((incident.starts_s - WINDOW_MARGIN_S, incident.ends_s))
            burst = burst_at(outcomes.get(agent, []), incident.starts_s, incident.ends_s)
            if burst is None:
                continue  # chance kept this agent from a burst: nothing to be early for
            row = rows[incident.scenario]
            row["incidents"] += 1
            for who, column in (("model", 1), ("baseline", 2)):
                first = next(
                    (
                        p[0]
                        for p in flags.get(agent, [])
                        if incident.starts_s - WINDOW_MARGIN_S <= p[0] <= burst and p[column] >= threshold
                    ),
                    None,
                )
                if first is None:
                    row[who].append(None)
                    continue
                executions = sum(1 for t, _ in outcomes[agent] if first <= t < burst)
                row[who].append(((burst - first) / 60, executions))
    print(
        f"\nlead time before the failure burst (>= {BURST_OF} of the last {BURST_IN} failed), threshold {threshold:.2f}:"
    )
    print(
        f"  {'scenario':<18}{'bursts':>7}  {'model: flagged before, median lead':<38}{'baseline: flagged before, median lead':<38}"
    )
    for scenario, row in sorted(rows.items()):
        cells = []
        for who in ("model", "baseline"):
            leads = [x for x in row[who] if x is not None]
            if leads:
                minutes = float(np.median([x[0] for x in leads]))
                execs = float(np.median([x[1] for x in leads]))
                cells.append(f"{len(leads)}/{row['incidents']}, {minutes:.0f} min / {execs:.0f} executions")
            else:
                cells.append(f"0/{row['incidents']}")
        print(f"  {scenario:<18}{row['incidents']:>7}  {cells[0]:<38}{cells[1]:<38}")
    print("\nprecision of flag episodes (an agent turning flagged; true inside an incident's window):")
    for who, column in (("model", 1), ("baseline", 2)):
        episodes = true = 0
        for agent, points in flags.items():
            flagged = False
            for point in points:
                now_flagged = point[column] >= threshold
                if now_flagged and not flagged:
                    episodes += 1
                    true += any(a <= point[0] <= b for a, b in windows.get(agent, []))
                flagged = now_flagged
        share = f"{true / episodes:.0%}" if episodes else "n/a"
        print(f"  {who:<10}{true}/{episodes} episodes true ({share})")
