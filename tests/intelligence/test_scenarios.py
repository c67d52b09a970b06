import itertools
import random
from datetime import UTC, datetime

import pytest

from agents.services import create_agent
from executions.models import Execution
from intelligence import scenario_history, scenarios
from intelligence.models import AgentVersionSeen

AGENTS = [("a", "openai"), ("b", "openai"), ("c", "anthropic")]


def test_a_slow_degradation_ramps_up_then_fails_most_of_the_time():
    timeline = scenarios.incident_at(scenarios.Timeline(length_s=86400), "slow_degradation", "a", 10_000)
    start = timeline.incidents[0].starts_s
    early, late = timeline.shape("a", "openai", start + 60), timeline.shape("a", "openai", 9_990)
    assert early.fail_p < late.fail_p < 0.5 and early.duration_factor < late.duration_factor
    assert timeline.shape("a", "openai", 10_001).fail_p == 0.85
    assert timeline.shape("b", "openai", 10_001) == scenarios.Shape()


def test_a_provider_outage_hits_every_agent_of_that_provider_only():
    timeline = scenarios.incident_at(scenarios.Timeline(length_s=86400), "provider_outage", "openai", 5_000)
    assert timeline.shape("a", "openai", 5_001).fail_p == timeline.shape("b", "openai", 5_001).fail_p == 0.9
    assert timeline.shape("c", "anthropic", 5_001) == scenarios.Shape()


def test_a_bad_deploy_comes_with_a_new_version_and_a_rollback():
    timeline = scenarios.incident_at(scenarios.Timeline(length_s=86400), "bad_deploy", "a", 5_000)
    incident = timeline.incidents[0]
    assert timeline.version("a", incident.starts_s - 1) == "1.0.0"
    assert timeline.version("a", incident.onset_s) == "1.0.0-r1"
    assert timeline.version("a", incident.ends_s) == "1.0.0-r2"


def test_planned_incidents_never_overlap_on_one_agent():
    timeline = scenarios.plan(AGENTS, length_s=6 * 86400, rng=random.Random(1), incidents_per_day=4)
    assert len(timeline.incidents) >= 12
    for name, provider in AGENTS:
        mine = [
            i
            for i in timeline.incidents
            if i.target == (provider if i.scenario == "provider_outage" else name)
        ]
        for first, second in itertools.pairwise(mine):
            assert first.ends_s < second.starts_s


@pytest.mark.django_db
def test_the_history_goes_through_batch_ingestion_once(business):
    agents = [(create_agent(business=business, name=n), p, "gpt-4o-mini") for n, p in AGENTS]
    timeline = scenarios.incident_at(scenarios.Timeline(length_s=6 * 3600), "bad_deploy", "a", 4 * 3600)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    written = scenario_history.write(
        agents=agents, timeline=timeline, start=start, every_s=300, rng=random.Random(2), key="t"
    )
    assert written == Execution.objects.count() > 200
    assert Execution.objects.filter(requested_by__startswith="agent:").count() == written  # reported
    versions = AgentVersionSeen.objects.filter(agent=agents[0][0]).values_list("version", flat=True)
    assert list(versions) == ["1.0.0", "1.0.0-r1", "1.0.0-r2"]
    again = scenario_history.write(
        agents=agents, timeline=timeline, start=start, every_s=300, rng=random.Random(2), key="t"
    )
    assert again == written and Execution.objects.count() == written


def test_a_nightly_failing_hour_is_read_in_utc_from_the_timeline_start():
    timeline = scenarios.Timeline(length_s=86400, t0=datetime(2025, 3, 1, 1, 0, tzinfo=UTC).timestamp())
    timeline.failing_hours["a"] = (2, 0.6)
    assert timeline.shape("a", "openai", 3600 + 60).fail_p == 0.6  # 02:01 UTC
    assert timeline.shape("a", "openai", 60) == scenarios.Shape()  # 01:01 UTC
    assert timeline.shape("b", "openai", 3600 + 60) == scenarios.Shape()
