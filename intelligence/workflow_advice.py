"""Advice on workflow steps from their executions: futile retries, timeouts far from the p99 duration,
steps in sequence that could run in parallel, a cheaper agent with the same success rate. Each says
nothing below its minimum evidence (the ``MIN_*`` constants)."""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np

from executions.models import Execution, Status
from intelligence.features import TIMEOUT_KINDS
from intelligence.findings import MONTH_DAYS, WINDOW, Found, seconds_text
from intelligence.models import SuggestionKind
from mission_control.display import money
from workflows.definitions import referenced_steps
from workflows.models import Workflow, WorkflowRun

MIN_RETRIES = 10  # retries of a step before saying they are futile
FUTILE_RATE = 0.10  # retries succeeding at most this often are futile
MIN_DURATIONS = 20  # successful runs of a step before judging its timeout
TIMEOUT_SLACK = 10  # a timeout over 10× the p99 duration is far from it
MIN_STEP_RUNS = 5  # runs of each step before computing a critical path
MIN_SAVING_S = 1.0
MIN_COMPARE = 20  # runs of a step by each agent before comparing them
SAME_SUCCESS = 0.02  # "the same success rate": within 2 points
CHEAPER = 0.8  # at most 80 % of the cost


@dataclass
class StepRow:
    agent_id: int
    failed: bool
    succeeded: bool
    retry: bool
    duration_s: float | None
    cost: Decimal
    error_type: str


def step_rows(business_id: int, since: datetime) -> dict[tuple[int, str], list[StepRow]]:
    """Terminal step executions of the window, per (workflow id, step id)."""
    rows = list(
        Execution.objects.filter(
            business_id=business_id,
            started_at__gte=since,
            workflow_run_id__isnull=False,
            status__in=(Status.SUCCESS, Status.FAILED),
        )
        .order_by()
        .values_list(
            "workflow_run_id",
            "workflow_step",
            "agent_id",
            "status",
            "retry_count",
            "duration_ms",
            "cost_usd",
            "error_type",
        )
    )
    runs = dict(WorkflowRun.objects.filter(pk__in={r[0] for r in rows}).values_list("pk", "workflow_id"))
    found: dict[tuple[int, str], list[StepRow]] = defaultdict(list)
    for run_id, step, agent_id, status, retry_count, duration, cost, error_type in rows:
        if run_id in runs and step:
            found[(runs[run_id], step)].append(
                StepRow(
                    agent_id=agent_id,
                    failed=status == Status.FAILED,
                    succeeded=status == Status.SUCCESS,
                    retry=retry_count > 0,
                    duration_s=None if duration is None else duration / 1000,
                    cost=cost or Decimal(0),
                    error_type=error_type or "",
                )
            )
    return found


def workflows_of(business_id: int) -> list[Workflow]:
    return list(
        Workflow.objects.filter(business_id=business_id, current_version__isnull=False).select_related(
            "current_version"
        )
    )


def _with_step(definition: dict, step_id: str, **changes) -> dict:
    return {"steps": [{**s, **changes} if s["id"] == step_id else s for s in definition["steps"]]}


def _change(workflow: Workflow, definition: dict, what: str) -> dict:
    return {
        "type": "workflow_version",
        "workflow": workflow.pk,
        "from_version": workflow.current_version.number,
        "definition": definition,
        "what": what,
    }


def futile_retries(workflows, stats) -> list[Found]:
    found = []
    for wf in workflows:
        for step in wf.current_version.definition["steps"]:
            attempts = step["retry"]["max_attempts"]
            retries = [r for r in stats.get((wf.pk, step["id"]), []) if r.retry]
            if attempts < 2 or len(retries) < MIN_RETRIES:
                continue
            won = sum(r.succeeded for r in retries)
            rate = won / len(retries)
            if rate > FUTILE_RATE:
                continue
            cost = sum((r.cost for r in retries), Decimal(0))
            busy = sum(r.duration_s or 0 for r in retries)
            futile = len(retries) - won
            found.append(
                Found(
                    kind=SuggestionKind.RETRY_FUTILE,
                    subject=f"workflow_step:{wf.pk}/{step['id']}",
                    label=f"{wf.name} › {step['id']}",
                    basis=f"v{wf.current_version.number}",
                    summary=(
                        f"Only {won} of {len(retries)} retries of {step['id']} succeeded in 30 days "
                        f"({rate:.0%}): set max_attempts from {attempts} to 1 and fail fast."
                    ),
                    evidence={
                        "retries": len(retries),
                        "retries_succeeded": won,
                        "retry_success_rate": round(rate, 4),
                        "max_attempts": attempts,
                        "retry_cost_usd": str(cost),
                        "retry_run_time_s": round(busy, 1),
                        "days": WINDOW.days,
                    },
                    expected_gain=(
                        f"{futile} futile retries in the last 30 days avoided: {seconds_text(busy)} of run time and "
                        f"{money(cost)}; failures are known {seconds_text(step['retry']['initial_interval_s'])}+ sooner"
                    ),
                    gain={"retries_avoided": futile, "run_time_s": round(busy, 1), "cost_usd": str(cost)},
                    change=_change(
                        wf,
                        _with_step(
                            wf.current_version.definition,
                            step["id"],
                            retry={**step["retry"], "max_attempts": 1},
                        ),
                        f"{step['id']}: retry.max_attempts {attempts} → 1",
                    ),
                )
            )
    return found


def timeouts(workflows, stats) -> list[Found]:
    found = []
    for wf in workflows:
        for step in wf.current_version.definition["steps"]:
            limit = step.get("timeout_s")
            rows = stats.get((wf.pk, step["id"]), [])
            durations = [r.duration_s for r in rows if r.succeeded and r.duration_s is not None]
            if not limit or len(durations) < MIN_DURATIONS:
                continue
            p99 = float(np.percentile(durations, 99))
            timed_out = sum(r.failed and r.error_type in TIMEOUT_KINDS for r in rows)
            if limit > TIMEOUT_SLACK * p99 and limit - p99 > 60:
                proposed = max(math.ceil(3 * p99), 10)
                gain = f"a hung run of {step['id']} fails after {seconds_text(proposed)} instead of {seconds_text(limit)}"
                gain_figures = {"hang_detected_sooner_s": limit - proposed}
            elif timed_out >= 5 and p99 >= 0.8 * limit:
                proposed = math.ceil(1.5 * p99)
                gain = f"{timed_out} runs that timed out in the last 30 days had room to finish (p99 {seconds_text(p99)})"
                gain_figures = {"timeouts_avoided": timed_out}
            else:
                continue
            found.append(
                Found(
                    kind=SuggestionKind.TIMEOUT,
                    subject=f"workflow_step:{wf.pk}/{step['id']}",
                    label=f"{wf.name} › {step['id']}",
                    basis=f"v{wf.current_version.number}",
                    summary=(
                        f"{step['id']}'s timeout is {seconds_text(limit)} while its p99 duration is {seconds_text(p99)} "
                        f"over {len(durations)} successful runs: set it to {seconds_text(proposed)}."
                    ),
                    evidence={
                        "timeout_s": limit,
                        "p99_duration_s": round(p99, 2),
                        "successful_runs": len(durations),
                        "timed_out": timed_out,
                        "days": WINDOW.days,
                    },
                    expected_gain=gain,
                    gain=gain_figures,
                    change=_change(
                        wf,
                        _with_step(wf.current_version.definition, step["id"], timeout_s=proposed),
                        f"{step['id']}: timeout_s {limit} → {proposed}",
                    ),
                )
            )
    return found


def _reads(step: dict) -> set[str]:
    """The steps a step reads: its ``$ref`` inputs and its ``when``."""
    found: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            if "$ref" in value:
                found.update(referenced_steps(value["$ref"]))
                return
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(step.get("input") or {})
    if step.get("when"):
        found.update(referenced_steps(step["when"]))
    return found


def critical_path(steps: list[dict], duration: dict[str, float]) -> float:
    finish: dict[str, float] = {}

    def end(step_id: str) -> float:
        if step_id not in finish:
            step = next(s for s in steps if s["id"] == step_id)
            finish[step_id] = max((end(d) for d in step["depends_on"]), default=0.0) + duration[step_id]
        return finish[step_id]

    return max(end(s["id"]) for s in steps)


def parallel_steps(workflows, stats) -> list[Found]:
    found = []
    for wf in workflows:
        steps = wf.current_version.definition["steps"]
        medians = {}
        for step in steps:
            durations = [
                r.duration_s for r in stats.get((wf.pk, step["id"]), []) if r.succeeded and r.duration_s
            ]
            if len(durations) >= MIN_STEP_RUNS:
                medians[step["id"]] = float(np.median(durations))
        if len(medians) < len(steps):
            continue  # a step without enough history: its place on the critical path is unknown
        before = critical_path(steps, medians)
        for step in steps:
            reads = _reads(step)
            for dep in step["depends_on"]:
                if dep in reads:
                    continue
                loosened = [
                    {**s, "depends_on": [d for d in s["depends_on"] if d != dep]}
                    if s["id"] == step["id"]
                    else s
                    for s in steps
                ]
                after = critical_path(loosened, medians)
                saved = before - after
                if saved < MIN_SAVING_S or saved < 0.1 * before:
                    continue
                found.append(
                    Found(
                        kind=SuggestionKind.PARALLELIZE,
                        subject=f"workflow_step:{wf.pk}/{step['id']}",
                        label=f"{wf.name} › {step['id']}",
                        basis=f"v{wf.current_version.number}:{dep}",
                        summary=(
                            f"{step['id']} waits for {dep} but reads nothing from it (no $ref, no when): "
                            f"run them in parallel."
                        ),
                        evidence={
                            "step": step["id"],
                            "waits_for": dep,
                            "median_duration_s": {k: round(v, 2) for k, v in medians.items()},
                            "critical_path_s": round(before, 2),
                            "runs": min(len(stats[(wf.pk, s["id"])]) for s in steps),
                            "days": WINDOW.days,
                        },
                        expected_gain=(
                            f"critical path {seconds_text(before)} → {seconds_text(after)} ({saved / before:.0%} faster per run)"
                        ),
                        gain={
                            "critical_path_before_s": round(before, 2),
                            "critical_path_after_s": round(after, 2),
                        },
                        change=_change(
                            wf,
                            {"steps": loosened},
                            f"{step['id']}: no longer waits for {dep}",
                        ),
                    )
                )
    return found


def cheaper_agents(workflows, stats, names: dict[int, str]) -> list[Found]:
    found = []
    for wf in workflows:
        for step in wf.current_version.definition["steps"]:
            current = step.get("agent")
            rows = stats.get((wf.pk, step["id"]), [])
            by_agent: dict[int, list[StepRow]] = defaultdict(list)
            for row in rows:
                by_agent[row.agent_id].append(row)
            mine = by_agent.get(current, [])
            if current is None or len(mine) < MIN_COMPARE:
                continue

            def figures(items):
                return sum(r.succeeded for r in items) / len(items), sum(
                    (r.cost for r in items), Decimal(0)
                ) / len(items)

            rate, cost = figures(mine)
            best = None
            for other, items in by_agent.items():
                if other == current or len(items) < MIN_COMPARE or other not in names:
                    continue
                other_rate, other_cost = figures(items)
                cheap = other_cost <= cost * Decimal(str(CHEAPER))
                if other_rate >= rate - SAME_SUCCESS and cheap and (best is None or other_cost < best[2]):
                    best = (other, other_rate, other_cost, len(items))
            if best is None:
                continue
            other, other_rate, other_cost, other_n = best
            monthly_runs = len(rows) * MONTH_DAYS / WINDOW.days
            saving = ((cost - other_cost) * Decimal(str(monthly_runs))).quantize(Decimal("0.000001"))
            found.append(
                Found(
                    kind=SuggestionKind.CHEAPER_AGENT,
                    subject=f"workflow_step:{wf.pk}/{step['id']}",
                    label=f"{wf.name} › {step['id']}",
                    basis=f"v{wf.current_version.number}:{other}",
                    summary=(
                        f"{names.get(other)} ran {step['id']} {other_n} times at {money(other_cost)} a run with "
                        f"{other_rate:.0%} success; {names.get(current, current)} costs {money(cost)} with {rate:.0%}."
                    ),
                    evidence={
                        "current_agent": current,
                        "current_runs": len(mine),
                        "current_success_rate": round(rate, 4),
                        "current_cost_per_run_usd": str(cost.quantize(Decimal("0.00000001"))),
                        "cheaper_agent": other,
                        "cheaper_runs": other_n,
                        "cheaper_success_rate": round(other_rate, 4),
                        "cheaper_cost_per_run_usd": str(other_cost.quantize(Decimal("0.00000001"))),
                        "runs_per_month": round(monthly_runs, 1),
                        "days": WINDOW.days,
                    },
                    expected_gain=f"{money(saving)} a month at {monthly_runs:.0f} runs a month",
                    gain={"monthly_saving_usd": str(saving)},
                    change=_change(
                        wf,
                        _with_step(wf.current_version.definition, step["id"], agent=other, capability=None),
                        f"{step['id']}: agent {names.get(current, current)} → {names.get(other)}",
                    ),
                )
            )
    return found
