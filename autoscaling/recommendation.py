"""The arithmetic of a scaling decision, without the database: what the figures ask for, what the
stabilisation windows allow, what the step limits let through. Kubernetes' Horizontal Pod
Autoscaler is the model (``desired = ceil(current × metric / target)`` with a 10 % tolerance, the
highest of several metrics, windows over past recommendations (lowest for up, highest for down), per-decision step policies).
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

TOLERANCE = 0.1  # the HPA's: a ratio within 10 % of the target changes nothing


@dataclass(frozen=True)
class Figures:
    """What the autoscaler knows of one agent at one moment."""

    pending: int  # queued executions of the agent, due now
    ready_tasks: int  # ready board tasks its capabilities fit, nobody else's
    running: int
    oldest_wait_s: float | None  # the oldest due pending execution's wait; None with none pending
    throughput_per_min: float  # executions it finished over the last few minutes, per minute

    @property
    def queue(self) -> int:
        return self.pending + self.ready_tasks


@dataclass(frozen=True)
class Recommendation:
    replicas: int
    why: str  # the figures that asked for it, in words


def _by_queue(current: int, queue: int, target: int) -> int:
    desired = math.ceil(queue / target)
    if current and abs(queue / (current * target) - 1) <= TOLERANCE:
        return current
    return desired


def _by_wait(current: int, figures: Figures, target_s: int) -> tuple[int, str]:
    wait = figures.oldest_wait_s
    if wait is None:
        return 0, "nothing waiting"
    if wait > target_s * (1 + TOLERANCE):
        return (
            math.ceil(max(current, 1) * wait / target_s),
            f"{figures.queue} pending, oldest {wait:.0f} s > target {target_s} s",
        )
    rate = figures.throughput_per_min / 60 / current if current else 0  # per replica per second
    within = f"{figures.queue} pending, oldest {wait:.0f} s ≤ target {target_s} s"
    if rate > 0:
        # Enough replicas to clear the queue within the target at the recent pace.
        wanted = max(1, math.ceil(figures.queue / (rate * target_s)))
        return wanted, (
            f"{within}; at {rate * 60:.1f} runs/min per replica, clearing them within {target_s} s takes "
            f"{wanted} replica{'s' if wanted != 1 else ''}"
        )
    return max(current, 1), within


def recommend(
    *,
    current: int,
    figures: Figures,
    target_pending_per_replica: int | None,
    target_wait_s: int | None,
    min_replicas: int,
    max_replicas: int,
) -> Recommendation:
    """The replicas the figures ask for now, within ``min_replicas..max_replicas``: the highest of
    what each target asks (as the HPA takes the highest over its metrics)."""
    asks: list[tuple[int, str]] = []
    if target_pending_per_replica:
        n = _by_queue(current, figures.queue, target_pending_per_replica)
        asks.append((n, f"{figures.queue} pending, target {target_pending_per_replica} per replica"))
    if target_wait_s:
        asks.append(_by_wait(current, figures, target_wait_s))
    if not asks:
        return Recommendation(current, "no target set")
    wanted, why = max(asks, key=lambda ask: ask[0])
    if len(asks) > 1 and figures.oldest_wait_s is not None and "oldest" not in why:
        why += f", oldest {figures.oldest_wait_s:.0f} s"
    replicas = min(max(wanted, min_replicas), max_replicas)
    if replicas != wanted:
        why += f" (wants {wanted}, bounds {min_replicas}..{max_replicas})"
    return Recommendation(replicas, why)


def stabilised(
    *,
    current: int,
    now: datetime,
    recommendation: int,
    history: list[tuple[datetime, int]],
    scale_up_window_s: int,
    scale_down_window_s: int,
) -> int:
    """The target after the stabilisation windows, as the HPA has them: up to the *lowest*
    recommendation of the scale-up window (pressure must have lasted that long; 0 s, the HPA's
    default, reacts at once), else down to the *highest* of the scale-down window (a dip in the queue
    shorter than that window never removes a replica), else unchanged. So a queue that comes and goes
    cannot make the agent flap, and a drained queue never scales up on an old spike. (Issue 17 worded
    the up window as its *highest* recommendation: deliberately not, see docs/api.md, *Autoscaling*.)"""
    up_since = now - timedelta(seconds=scale_up_window_s)
    down_since = now - timedelta(seconds=scale_down_window_s)
    up = min([recommendation] + [r for at, r in history if at > up_since])
    if up > current:
        return up
    down = max([recommendation] + [r for at, r in history if at > down_since])
    return down if down < current else current


def limited(*, current: int, target: int, max_scale_up_step: int, max_scale_down_step: int) -> int:
    """At most ``+max_scale_up_step`` or ×2 (whichever is more) up, ``-max_scale_down_step`` down."""
    if target > current:
        return min(target, max(current + max_scale_up_step, current * 2))
    if target < current:
        return max(target, current - max_scale_down_step)
    return current
