"""What the failure model sees: for one subject (an agent, a cron job, a workflow step) at one
instant, figures drawn only from what had finished before that instant.

The same function computes the features of a training sample (an execution, as of its start) and of
a live score (as of now), so the model is scored on exactly what it was trained on. A ``Timeline``
holds one subject's finished executions sorted by finish time; windows are two bisects on it.
"""

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

import numpy as np

FEATURES = [
    "fail_rate_last20",
    "fail_rate_30m",
    "fail_rate_2h",
    "fail_rate_24h",
    "consecutive_failures",
    "timeout_share_2h",
    "rate_limit_share_2h",
    "other_error_share_2h",
    "duration_p95_drift",
    "duration_median_drift",
    "tokens_drift",
    "queue_wait_drift",
    "heartbeat_gaps_2h",
    "restarts_2h",
    "deploy_recency",
    "provider_fail_rate_30m",
    "hour_sin",
    "hour_cos",
]
MIN_HISTORY = 5  # a subject with fewer finished executions before the instant is not scored
MINUTE, HOUR = 60.0, 3600.0
RECENT = 2 * HOUR
BASELINE = 24 * HOUR
TIMEOUT_KINDS = {"timeout", "deadline_exceeded", "heartbeat_timeout", "start_timeout"}
RATE_LIMIT_KINDS = {"rate_limit", "rate_limited", "provider_rate_limit"}


@dataclass
class Timeline:
    """One subject's finished executions (aborted ones left out: nobody failed), oldest first."""

    finished: list[float] = field(default_factory=list)  # epoch seconds
    failed: list[bool] = field(default_factory=list)
    error_type: list[str] = field(default_factory=list)
    duration_ms: list[float] = field(default_factory=list)  # nan when not reported
    tokens: list[float] = field(default_factory=list)
    wait_s: list[float] = field(default_factory=list)  # created -> started, nan when unknown
    agent_id: list[int] = field(default_factory=list)
    provider: list[str] = field(default_factory=list)

    def add(self, *, finished, failed, error_type, duration_ms, tokens, wait_s, agent_id, provider) -> None:
        self.finished.append(finished)
        self.failed.append(failed)
        self.error_type.append(error_type or "")
        self.duration_ms.append(math.nan if duration_ms is None else float(duration_ms))
        self.tokens.append(float(tokens or 0))
        self.wait_s.append(math.nan if wait_s is None else float(wait_s))
        self.agent_id.append(agent_id)
        self.provider.append(provider or "")

    def freeze(self) -> "Timeline":
        """Sort by finish time and keep numpy copies of the numeric columns (the windows slice them)."""
        order = sorted(range(len(self.finished)), key=self.finished.__getitem__)
        for name in (
            "finished",
            "failed",
            "error_type",
            "duration_ms",
            "tokens",
            "wait_s",
            "agent_id",
            "provider",
        ):
            values = getattr(self, name)
            setattr(self, name, [values[i] for i in order])
        self._failed = np.array(self.failed, dtype=float)
        self._duration = np.array(self.duration_ms, dtype=float)
        self._tokens = np.array(self.tokens, dtype=float)
        self._wait = np.array(self.wait_s, dtype=float)
        return self

    def before(self, t: float) -> int:
        """How many executions had finished before ``t``."""
        return bisect_left(self.finished, t)


@dataclass
class Presence:
    """What the agents did besides work: heartbeat gaps (``agent.offline``), restarts, versions."""

    offline: dict[int, list[float]] = field(default_factory=dict)
    restarts: dict[int, list[float]] = field(default_factory=dict)
    versions: dict[int, list[tuple[float, str]]] = field(default_factory=dict)

    def count(self, table: dict[int, list[float]], agent_id: int | None, since: float, until: float) -> int:
        times = table.get(agent_id) or []
        return bisect_left(times, until) - bisect_left(times, since)

    def deploy(self, agent_id: int | None, t: float) -> tuple[float | None, str]:
        """Hours since the agent's version last changed before ``t`` (None: no change seen), and it."""
        seen = self.versions.get(agent_id) or []
        i = bisect_right([s for s, _ in seen], t)
        if i < 2:  # the first version seen is where we started watching, not a deploy
            return None, ""
        return (t - seen[i - 1][0]) / HOUR, seen[i - 1][1]


@dataclass
class Providers:
    """Every finished execution of the business per provider, to see a provider failing for all."""

    finished: dict[str, list[float]] = field(default_factory=dict)
    failed: dict[str, np.ndarray] = field(default_factory=dict)
    agent: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_timelines(cls, timelines) -> "Providers":
        rows: dict[str, list] = {}
        for tl in timelines:
            for f, x, a, p in zip(tl.finished, tl.failed, tl.agent_id, tl.provider, strict=True):
                if p:
                    rows.setdefault(p, []).append((f, x, a))
        found = cls()
        for provider, items in rows.items():
            items.sort()
            found.finished[provider] = [f for f, _, _ in items]
            found.failed[provider] = np.array([x for _, x, _ in items], dtype=float)
            found.agent[provider] = np.array([a or 0 for _, _, a in items], dtype=np.int64)
        return found

    def rate(self, provider: str, agent_id: int | None, since: float, until: float) -> tuple[float, int]:
        """Failure rate of the provider's executions by other agents in the window, and how many."""
        times = self.finished.get(provider)
        if not times:
            return math.nan, 0
        i, j = bisect_left(times, since), bisect_left(times, until)
        others = self.agent[provider][i:j] != (agent_id or 0)
        n = int(others.sum())
        return (float(self.failed[provider][i:j][others].mean()) if n else math.nan), n


def _rate(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else math.nan


PRIOR = 3


def _shrunk(window: np.ndarray, towards: float) -> float:
    return float((window.sum() + PRIOR * towards) / (len(window) + PRIOR))


def _known(values: np.ndarray) -> np.ndarray:
    return values[~np.isnan(values)]


def _drift(recent: np.ndarray, usual: np.ndarray, stat, usual_stat=None) -> tuple[float, float, float]:
    """log2(recent / usual) clipped to +-3 (0 when either side is too thin), and both figures."""
    recent, usual = _known(recent), _known(usual)
    if len(recent) < 3 or len(usual) < 5:
        return 0.0, math.nan, math.nan
    now, before = float(stat(recent)), float((usual_stat or stat)(usual))
    if before <= 0 or now <= 0:
        return 0.0, now, before
    return max(-3.0, min(3.0, math.log2(now / before))), now, before


def _p95(values: np.ndarray) -> float:
    return float(np.percentile(values, 95))


def _usual_p95(values: np.ndarray) -> float:
    """p95 of the usual window without its own incidents (over 3× its median), so one bad hour
    yesterday does not make today's slowness look usual."""
    median = float(np.median(values))
    return _p95(values[values <= 3 * median]) if median > 0 else _p95(values)


def compute(tl: Timeline, t: float, *, presence: Presence, providers: Providers) -> dict | None:
    """Features of the subject as of ``t`` plus the raw figures reasons quote (``_raw``), or None when
    fewer than ``MIN_HISTORY`` executions had finished before ``t``."""
    n = tl.before(t)
    if n < MIN_HISTORY:
        return None
    failed = tl._failed
    last20 = _rate(failed[max(0, n - 20) : n])
    i2h, i30, i24 = tl.before(t - RECENT), tl.before(t - 30 * MINUTE), tl.before(t - BASELINE)
    rate_24h = _rate(failed[i24:n])
    rate_24h = last20 if math.isnan(rate_24h) else rate_24h
    # Short windows hold few executions: 1 failure out of 1 is not a 100 % failure rate. Each window's
    # rate is shrunk towards the next longer one by PRIOR pseudo-executions (none left: that rate).
    rate_2h = _shrunk(failed[i2h:n], rate_24h)
    rate_30m = _shrunk(failed[i30:n], rate_2h)
    streak = 0
    while streak < min(n, 10) and tl.failed[n - 1 - streak]:
        streak += 1
    recent_errors = [e for e, x in zip(tl.error_type[i2h:n], tl.failed[i2h:n], strict=True) if x]
    shares = {"timeout": 0, "rate_limit": 0, "other": 0}
    for kind in recent_errors:
        key = "timeout" if kind in TIMEOUT_KINDS else "rate_limit" if kind in RATE_LIMIT_KINDS else "other"
        shares[key] += 1
    total_errors = max(len(recent_errors), 1)
    # "Recent" is the last 2 h, or the last 10 executions when the 2 h hold fewer than 3.
    r0 = i2h if n - i2h >= 3 else max(0, n - 10)
    usual = slice(max(i24, r0 - 200), r0)
    p95_drift, p95_now, p95_usual = _drift(tl._duration[r0:n], tl._duration[usual], _p95, _usual_p95)
    med_drift, med_now, med_usual = _drift(tl._duration[max(0, n - 5) : n], tl._duration[usual], np.median)
    tok_drift, tok_now, tok_usual = _drift(tl._tokens[max(0, n - 5) : n], tl._tokens[usual], np.median)
    wait_drift, wait_now, wait_usual = _drift(tl._wait[max(0, n - 5) : n], tl._wait[usual], np.mean)
    agent_id, provider = tl.agent_id[n - 1], tl.provider[n - 1]
    gaps = presence.count(presence.offline, agent_id, t - RECENT, t)
    restarts = presence.count(presence.restarts, agent_id, t - RECENT, t)
    deployed_h, version = presence.deploy(agent_id, t)
    provider_rate, provider_n = providers.rate(provider, agent_id, t - 30 * MINUTE, t)
    hour = (t % 86400) / HOUR
    values = {
        "fail_rate_last20": last20,
        "fail_rate_30m": rate_30m,
        "fail_rate_2h": rate_2h,
        "fail_rate_24h": rate_24h,
        "consecutive_failures": float(streak),
        "timeout_share_2h": shares["timeout"] / total_errors,
        "rate_limit_share_2h": shares["rate_limit"] / total_errors,
        "other_error_share_2h": shares["other"] / total_errors,
        "duration_p95_drift": p95_drift,
        "duration_median_drift": med_drift,
        "tokens_drift": tok_drift,
        "queue_wait_drift": wait_drift,
        "heartbeat_gaps_2h": float(gaps),
        "restarts_2h": float(restarts),
        "deploy_recency": math.exp(-deployed_h / 2) if deployed_h is not None else 0.0,
        # Too few executions by others: no evidence either way, read as the subject's own usual rate.
        "provider_fail_rate_30m": provider_rate if provider_n >= 3 else rate_24h,
        "hour_sin": math.sin(2 * math.pi * hour / 24),
        "hour_cos": math.cos(2 * math.pi * hour / 24),
    }
    values["_raw"] = {
        "executions": n,
        "failures_2h": int(failed[i2h:n].sum()),
        "executions_2h": n - i2h,
        "failures_30m": int(failed[i30:n].sum()),
        "executions_30m": n - i30,
        "errors_2h": shares,
        "p95_ms": [p95_now, p95_usual],
        "median_ms": [med_now, med_usual],
        "tokens": [tok_now, tok_usual],
        "wait_s": [wait_now, wait_usual],
        "version": version,
        "deployed_h": deployed_h,
        "provider": provider,
        "provider_executions_30m": provider_n,
        "agent_id": agent_id,
    }
    return values


def vector(values: dict) -> list[float]:
    return [float(values[name]) for name in FEATURES]
