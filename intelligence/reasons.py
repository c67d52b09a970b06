"""The top contributing features of a score, in words with their figures ("failure rate 30 min 40%
vs 5% usual; p95 duration 3.1× its baseline"). Features that say the same thing (the failure-rate
windows) give one sentence."""

import math

import numpy as np

from intelligence.features import FEATURES

TOP = 3
MIN_PUSH = 0.05  # log-odds: a feature that moved the score less than this is not a reason

GROUP = {
    "fail_rate_last20": "failures",
    "fail_rate_30m": "failures",
    "fail_rate_2h": "failures",
    "fail_rate_24h": "failures",
    "consecutive_failures": "streak",
    "timeout_share_2h": "errors",
    "rate_limit_share_2h": "errors",
    "other_error_share_2h": "errors",
    "duration_p95_drift": "duration",
    "duration_median_drift": "duration",
    "tokens_drift": "tokens",
    "queue_wait_drift": "wait",
    "heartbeat_gaps_2h": "gaps",
    "restarts_2h": "restarts",
    "deploy_recency": "deploy",
    "provider_fail_rate_30m": "provider",
    "hour_sin": "hour",
    "hour_cos": "hour",
}


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _seconds(ms: float) -> str:
    seconds = ms / 1000
    return f"{seconds:.1f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _ratio(now: float, usual: float) -> str:
    return f"{now / usual:.1f}×" if usual else "?"


def sentence(group: str, values: dict) -> str | None:
    raw = values["_raw"]
    if group == "failures":
        usual = _pct(values["fail_rate_24h"])
        if raw["executions_30m"]:
            rate = raw["failures_30m"] / raw["executions_30m"]
            return (
                f"failure rate 30 min {_pct(rate)} vs {usual} usual "
                f"({raw['failures_30m']} of {raw['executions_30m']} failed)"
            )
        if raw["executions_2h"]:
            rate = raw["failures_2h"] / raw["executions_2h"]
            return f"failure rate 2 h {_pct(rate)} vs {usual} usual ({raw['failures_2h']} of {raw['executions_2h']} failed)"
        return f"last 20 runs {_pct(values['fail_rate_last20'])} failed vs {usual} usual"
    if group == "streak":
        streak = int(values["consecutive_failures"])
        return f"{streak} failure{'' if streak == 1 else 's'} in a row"
    if group == "errors":
        errors = raw["errors_2h"]
        total = sum(errors.values())
        if not total:
            return None
        kind, count = max(errors.items(), key=lambda kv: kv[1])
        label = {"timeout": "timeouts", "rate_limit": "rate limits", "other": "errors other than timeouts"}[
            kind
        ]
        return f"{count} of {total} failures in the last 2 h were {label}"
    if group == "duration":
        now, usual = raw["p95_ms"]
        if not math.isnan(now) and not math.isnan(usual):
            return f"p95 duration {_seconds(now)}, {_ratio(now, usual)} its baseline ({_seconds(usual)})"
        now, usual = raw["median_ms"]
        if not math.isnan(now) and not math.isnan(usual):
            return f"median duration {_seconds(now)}, {_ratio(now, usual)} its baseline"
        return None
    if group == "tokens":
        now, usual = raw["tokens"]
        if math.isnan(now) or math.isnan(usual):
            return None
        return f"tokens per run {now:,.0f}, {_ratio(now, usual)} its baseline ({usual:,.0f})"
    if group == "wait":
        now, usual = raw["wait_s"]
        if math.isnan(now) or math.isnan(usual):
            return None
        return f"queue wait {now:.0f} s vs {usual:.0f} s usual"
    if group == "gaps":
        return f"{int(values['heartbeat_gaps_2h'])} heartbeat gaps (went offline) in the last 2 h"
    if group == "restarts":
        return f"restarted {int(values['restarts_2h'])} times in the last 2 h"
    if group == "deploy":
        if raw["deployed_h"] is None:
            return None
        return f"new version {raw['version']} seen {raw['deployed_h'] * 60:.0f} min ago"
    if group == "provider":
        if not raw["provider_executions_30m"]:
            return None
        return (
            f"{raw['provider']} failing {_pct(values['provider_fail_rate_30m'])} for other agents in the last "
            f"30 min ({raw['provider_executions_30m']} executions)"
        )
    return None  # the hour of day alone is no reason anyone can act on


def top(values: dict, pushes: np.ndarray) -> list[str]:
    """Sentences for the features that pushed the score up most, strongest first."""
    by_group: dict[str, float] = {}
    for name, push in zip(FEATURES, pushes, strict=True):
        by_group[GROUP[name]] = by_group.get(GROUP[name], 0.0) + float(push)
    found = []
    for group, push in sorted(by_group.items(), key=lambda kv: -kv[1]):
        if push < MIN_PUSH or len(found) == TOP:
            break
        text = sentence(group, values)
        if text:
            found.append(text)
    return found
