"""Fleet scenarios with real signal, on one timeline (seconds from its start): what each agent's next
execution looks like at any moment. Pure Python (no Django): the live fleet (``simulator``, ``manage.py
simulate --scenario``) asks it per execution in real time, and the history writer (``intelligence.demo``,
``bench prediction``) lays whole days of it into the ledger through the batch ingestion service.

- ``slow_degradation``: one agent gets slower and hungrier for 90 min (durations up to 4×, tokens up
  to 2.5×) while its failures creep up (timeouts), then fails most of the time for an hour.
- ``provider_outage``: every agent on one provider sees rate limits for 20 min, then 45 min of 503s.
- ``bad_deploy``: one agent reports a new version; failures climb over 25 min, then cluster for an
  hour, until a further version (the rollback). Harmless deploys happen too, so a new version alone
  proves nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

SCENARIOS = ("slow_degradation", "provider_outage", "bad_deploy")
NORMAL_FAIL = 0.05
MIN = 60.0
LEAD = {"slow_degradation": 90 * MIN, "provider_outage": 20 * MIN, "bad_deploy": 25 * MIN}
BURST = {"slow_degradation": 60 * MIN, "provider_outage": 45 * MIN, "bad_deploy": 60 * MIN}
ERRORS = {
    "normal": ("tool_error", "Tool 'crm.lookup' failed: upstream gateway error (502)."),
    "slow_degradation": ("timeout", "Timed out: the step was still running at its deadline."),
    "provider_outage": ("rate_limit", "Provider rate limit hit (429): retry later."),
    "provider_down": ("provider_unavailable", "Provider unavailable (503)."),
    "bad_deploy": ("bad_output", "Output failed validation: missing required field 'answer'."),
    "nightly": ("lock_timeout", "Could not lock the reports table: the nightly export holds it."),
}


@dataclass(frozen=True)
class Shape:
    """How the next execution goes: its failure probability, how much longer and bigger it is."""

    fail_p: float = NORMAL_FAIL
    duration_factor: float = 1.0
    tokens_factor: float = 1.0
    error: tuple[str, str] = ERRORS["normal"]


@dataclass(frozen=True)
class Incident:
    scenario: str
    onset_s: float  # when failures cluster (the burst begins)
    target: str  # the agent's name, or the provider's for an outage

    @property
    def starts_s(self) -> float:
        return self.onset_s - LEAD[self.scenario]

    @property
    def ends_s(self) -> float:
        return self.onset_s + BURST[self.scenario]


@dataclass
class Timeline:
    """Incidents and deploys over ``[0, length_s)``."""

    length_s: float
    incidents: list[Incident] = field(default_factory=list)
    deploys: dict[str, list[float]] = field(default_factory=dict)  # agent -> times of new versions
    # agent -> (UTC hour, failure probability then): a nightly job that breaks it every day. The hour
    # is read from ``t0`` (the epoch second the timeline starts at).
    failing_hours: dict[str, tuple[int, float]] = field(default_factory=dict)
    t0: float = 0.0

    def version(self, agent: str, t: float, base: str = "1.0.0") -> str:
        n = sum(1 for d in self.deploys.get(agent, []) if d <= t)
        return base if n == 0 else f"{base}-r{n}"

    def shape(self, agent: str, provider: str, t: float) -> Shape:
        for incident in self.incidents:
            if not incident.starts_s <= t < incident.ends_s:
                continue
            hit = incident.target == (provider if incident.scenario == "provider_outage" else agent)
            if not hit:
                continue
            ramp = min(1.0, max(0.0, (t - incident.starts_s) / LEAD[incident.scenario]))
            burst = t >= incident.onset_s
            if incident.scenario == "slow_degradation":
                if burst:
                    return Shape(0.85, 4.0, 2.5, ERRORS["slow_degradation"])
                return Shape(
                    NORMAL_FAIL + 0.35 * ramp, 1 + 3 * ramp, 1 + 1.5 * ramp, ERRORS["slow_degradation"]
                )
            if incident.scenario == "provider_outage":
                if burst:
                    return Shape(0.9, 0.3, 0.2, ERRORS["provider_down"])
                return Shape(NORMAL_FAIL + 0.35 * ramp, 1 + 0.5 * ramp, 1.0, ERRORS["provider_outage"])
            if incident.scenario == "bad_deploy":
                if burst:
                    return Shape(0.8, 1.2, 1.3, ERRORS["bad_deploy"])
                return Shape(NORMAL_FAIL + 0.45 * ramp, 1.1, 1.3, ERRORS["bad_deploy"])
        if agent in self.failing_hours:
            hour, fail_p = self.failing_hours[agent]
            if int((self.t0 + t) % 86400 // 3600) == hour:
                return Shape(fail_p, 1.0, 1.0, ERRORS["nightly"])
        return Shape()


def plan(
    agents: list[tuple[str, str]],
    *,
    length_s: float,
    rng: random.Random,
    incidents_per_day: float = 3.0,
    scenarios: tuple[str, ...] = SCENARIOS,
    quiet_end_s: float = 0.0,
    harmless_deploys_per_day: float = 2.0,
) -> Timeline:
    """A timeline for ``agents`` ((name, provider) pairs): incidents spread at random, never two on
    one target at once, none in the last ``quiet_end_s``; harmless deploys besides."""
    timeline = Timeline(length_s=length_s)
    days = length_s / 86400
    providers = sorted({p for _, p in agents})
    busy: dict[str, list[tuple[float, float]]] = {}
    for _ in range(int(incidents_per_day * days)):
        scenario = rng.choice(scenarios)
        for _attempt in range(20):
            onset = rng.uniform(LEAD[scenario] + 2 * 3600, length_s - BURST[scenario] - quiet_end_s)
            incident = Incident(
                scenario,
                onset,
                rng.choice(providers) if scenario == "provider_outage" else rng.choice(agents)[0],
            )
            names = (
                [a for a, p in agents if p == incident.target]
                if scenario == "provider_outage"
                else [incident.target]
            )
            window = (incident.starts_s - 3600, incident.ends_s + 3600)
            if all(not (s < window[1] and window[0] < e) for n in names for s, e in busy.get(n, [])):
                timeline.incidents.append(incident)
                for n in names:
                    busy.setdefault(n, []).append(window)
                if scenario == "bad_deploy":
                    # The new version arrives as the trouble starts; the rollback after the burst.
                    timeline.deploys.setdefault(incident.target, []).extend(
                        [incident.starts_s, incident.ends_s]
                    )
                break
    for name, _ in agents:
        for _ in range(int(harmless_deploys_per_day * days)):
            t = rng.uniform(0, length_s)
            if all(not (s < t < e) for s, e in busy.get(name, [])):
                timeline.deploys.setdefault(name, []).append(t)
    for times in timeline.deploys.values():
        times.sort()
    timeline.incidents.sort(key=lambda i: i.onset_s)
    return timeline


def incident_at(timeline: Timeline, scenario: str, target: str, onset_s: float) -> Timeline:
    """``timeline`` with one more incident (the live fleet's ``--scenario``, the demo's "now")."""
    incident = Incident(scenario, onset_s, target)
    timeline.incidents.append(incident)
    if scenario == "bad_deploy":
        timeline.deploys.setdefault(target, []).extend([incident.starts_s, incident.ends_s])
        timeline.deploys[target].sort()
    return timeline
