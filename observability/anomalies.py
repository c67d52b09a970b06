"""Anomaly detection: each agent against its own recent past, hour by hour.

For the last complete hour, an agent's average duration, average cost per execution and failure
rate are compared with the same figure over its previous hours (up to 7 days) by a robust z-score,
``0.6745 * (x - median) / MAD`` (Iglewicz and Hoaglin): a few wild hours in the baseline do not
move the median or the MAD, so one incident does not hide the next. |z| >= 3.5 is an anomaly.
"""

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from agents.models import Agent
from mission_control.display import money
from mission_control.events import publish
from observability.models import Anomaly, HourlyRollup, Metric
from observability.rollups import HOUR, floor_hour

BASELINE = timedelta(days=7)
MIN_BASELINE_HOURS = 12
Z_THRESHOLD = 3.5
MIN_EXECUTIONS = 3  # an hour with fewer finished executions says too little to judge
# Besides a large z, the change itself must matter: 25 % for duration and cost, 20 points of rate.
MIN_RELATIVE_CHANGE = 0.25
MIN_RATE_CHANGE = 0.20
_MAD_TO_SIGMA = 0.6745
_MEANAD_TO_SIGMA = 0.7979  # used when more than half the baseline is identical (MAD = 0)


@dataclass(frozen=True)
class Score:
    value: float
    median: float
    mad: float
    z: float


def robust_z(value: float, baseline: list[float]) -> Score:
    median = statistics.median(baseline)
    mad = statistics.median(abs(x - median) for x in baseline)
    if mad:
        z = _MAD_TO_SIGMA * (value - median) / mad
    else:
        mean_ad = statistics.fmean(abs(x - median) for x in baseline)
        if mean_ad:
            z = _MEANAD_TO_SIGMA * (value - median) / mean_ad
        else:  # a perfectly flat baseline: any change is off the scale
            z = 0.0 if value == median else float("inf") if value > median else float("-inf")
    return Score(value=value, median=median, mad=mad, z=z)


def _metrics(row: dict) -> dict[str, float]:
    values = {}
    if row["duration_count"]:
        values[Metric.DURATION] = row["duration_ms_sum"] / row["duration_count"]
    if row["executions"]:
        values[Metric.COST] = row["cost_e8"] / 1e8 / row["executions"]
        values[Metric.FAILURE_RATE] = row["failed"] / row["executions"]
    return values


def _matters(metric: str, score: Score) -> bool:
    if abs(score.z) < Z_THRESHOLD:
        return False
    change = score.value - score.median
    if metric == Metric.FAILURE_RATE:
        return change >= MIN_RATE_CHANGE  # fewer failures than usual is no incident
    return abs(change) >= MIN_RELATIVE_CHANGE * abs(score.median) and abs(change) > 0


def _fmt(metric: str, value: float) -> str:
    if metric == Metric.DURATION:
        return f"{value:,.0f} ms"
    if metric == Metric.COST:
        return money(value)
    return f"{value:.0%}"


def reason(metric: str, score: Score, hour: datetime, executions: int, baseline_hours: int) -> str:
    label = Metric(metric).label.lower()
    direction = "above" if score.value > score.median else "below"
    ratio = f" ({score.value / score.median:.1f}× usual)" if score.median else ""
    z = "∞" if abs(score.z) == float("inf") else f"{score.z:+.1f}"
    return (
        f"{label.capitalize()} {_fmt(metric, score.value)} over {executions} executions in the hour from "
        f"{hour:%Y-%m-%d %H}:00 UTC is {direction} its median of {_fmt(metric, score.median)} over the "
        f"previous {baseline_hours} active hours{ratio}; robust z {z} (MAD {_fmt(metric, score.mad)})"
    )


def detect(*, now: datetime | None = None) -> list[Anomaly]:
    """Score the last complete hour of every agent that worked in it; record and announce anomalies.

    Idempotent: an (agent, metric, hour) is recorded once, however often this runs."""
    now = now or timezone.now()
    target = floor_hour(now) - HOUR
    rows = (
        HourlyRollup.objects.filter(hour__gte=target - BASELINE, hour__lte=target)
        .values("business_id", "agent_id", "hour")
        .annotate(
            executions=Sum("executions"),
            failed=Sum("failed"),
            duration_ms_sum=Sum("duration_ms_sum"),
            duration_count=Sum("duration_count"),
            cost_e8=Sum("cost_e8"),
        )
        .order_by()
    )
    history: dict[int, list[dict]] = defaultdict(list)
    current: dict[int, dict] = {}
    for row in rows:
        if row["hour"] == target:
            current[row["agent_id"]] = row
        elif row["executions"] >= MIN_EXECUTIONS:
            history[row["agent_id"]].append(row)
    found = []
    for agent_id, row in current.items():
        if row["executions"] < MIN_EXECUTIONS or len(history[agent_id]) < MIN_BASELINE_HOURS:
            continue
        now_values = _metrics(row)
        past = [_metrics(r) for r in history[agent_id]]
        for metric, value in now_values.items():
            baseline = [p[metric] for p in past if metric in p]
            if len(baseline) < MIN_BASELINE_HOURS:
                continue
            score = robust_z(value, baseline)
            if _matters(metric, score):
                anomaly = _record(row, metric, score, len(baseline), now)
                if anomaly:
                    found.append(anomaly)
    return found


def _dec(value: float, places: str = "0.00000001") -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(places))


def _record(row: dict, metric: str, score: Score, baseline_hours: int, now: datetime) -> Anomaly | None:
    text = reason(metric, score, row["hour"], row["executions"], baseline_hours)
    z = max(min(score.z, 9_999_999.0), -9_999_999.0)
    try:
        with transaction.atomic():
            anomaly = Anomaly.objects.create(
                business_id=row["business_id"],
                agent_id=row["agent_id"],
                metric=metric,
                hour=row["hour"],
                value=_dec(score.value),
                baseline_median=_dec(score.median),
                baseline_mad=_dec(score.mad),
                baseline_hours=baseline_hours,
                score=_dec(z, "0.01"),
                reason=text[:500],
                detected_at=now,
            )
            agent = Agent.objects.select_related("business").get(pk=row["agent_id"])
            publish(
                kind="anomaly.detected",
                business=agent.business,
                agent_id=agent.pk,
                actor="system",
                message=f"{agent.name}: {text}"[:500],
                data={
                    "anomaly": anomaly.pk,
                    "metric": metric,
                    "hour": row["hour"].isoformat(),
                    "value": str(anomaly.value),
                    "baseline_median": str(anomaly.baseline_median),
                    "baseline_mad": str(anomaly.baseline_mad),
                    "score": str(anomaly.score),
                    "reason": text,
                },
            )
    except IntegrityError:
        return None  # recorded by an earlier pass
    return anomaly
