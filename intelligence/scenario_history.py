"""Lays a scenario timeline (``intelligence.scenarios``) into the ledger as finished executions reported
through the batch ingestion service (what ``POST /api/v1/executions/batch`` calls: budgets settled,
events published, rollups updated), and the versions each agent reported into the presence record.
Used by the demo seed and ``bench prediction``: their history is made like live work."""

import hashlib
import json
import random
from datetime import datetime, timedelta

from agents.models import Agent
from executions.ingestion import ingest_batch
from intelligence.scenarios import Timeline
from intelligence.scoring import record_version

BATCH = 500


def _runs(
    agent: Agent,
    provider: str,
    model: str,
    timeline: Timeline,
    *,
    start: datetime,
    every_s: float,
    rng: random.Random,
    key: str,
    until_s: float,
) -> list[dict]:
    rows, t, n = [], rng.uniform(0, every_s), 0
    while t < until_s:
        shape = timeline.shape(agent.name, provider, t)
        failed = rng.random() < shape.fail_p
        duration_s = rng.lognormvariate(1.8, 0.35) * shape.duration_factor
        started = start + timedelta(seconds=t)
        input_tokens = int(rng.lognormvariate(6.8, 0.3) * shape.tokens_factor)
        output_tokens = (
            int(rng.lognormvariate(5.2, 0.3) * shape.tokens_factor) if not failed else rng.randint(0, 40)
        )
        rows.append(
            {
                "external_id": f"{key}-{agent.pk}-{n}",
                "status": "failed" if failed else "success",
                "trigger": "autonomous",
                "started_at": started,
                "finished_at": started + timedelta(seconds=duration_s),
                "duration_ms": int(duration_s * 1000),
                "model": model,
                "model_provider": provider,
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "error": shape.error[1] if failed else "",
                "error_type": shape.error[0] if failed else "",
            }
        )
        t += every_s * rng.uniform(0.7, 1.3)
        n += 1
    return rows


def write(
    *,
    agents: list[tuple[Agent, str, str]],
    timeline: Timeline,
    start: datetime,
    every_s: float,
    rng: random.Random,
    key: str,
    until_s: float | None = None,
) -> int:
    """Report every agent's executions over the timeline (``(agent, provider, model)``), up to
    ``until_s``; returns how many. Idempotent by ``external_id`` (a second call answers 200s)."""
    until_s = timeline.length_s if until_s is None else until_s
    total = 0
    for agent, provider, model in agents:
        record_version(agent=agent, version=timeline.version(agent.name, 0), seen_at=start)
        for deploy in timeline.deploys.get(agent.name, []):
            if deploy < until_s:
                record_version(
                    agent=agent,
                    version=timeline.version(agent.name, deploy),
                    seen_at=start + timedelta(seconds=deploy),
                )
        rows = _runs(
            agent, provider, model, timeline, start=start, every_s=every_s, rng=rng, key=key, until_s=until_s
        )
        for i in range(0, len(rows), BATCH):
            items = [
                (j, data, hashlib.sha256(json.dumps(data, default=str, sort_keys=True).encode()).hexdigest())
                for j, data in enumerate(rows[i : i + BATCH], start=i)
            ]
            ingest_batch(agent=agent, items=items, actor=None)
        total += len(rows)
    return total
