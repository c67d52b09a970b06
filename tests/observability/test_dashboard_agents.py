"""The per-agent table on the known ledger (see conftest): a 24 h window spans 23.5 hours."""

import pytest

from agents.models import Agent

pytestmark = pytest.mark.django_db


def _rows(api, query="business=acme"):
    return {row["name"]: row for row in api.get(f"/api/v1/dashboard/agents?{query}").json()["results"]}


def test_it_shows_each_agents_figures_over_the_window(viewer_api, ledger, travel):
    rows = _rows(viewer_api)

    assert list(rows) == ["coder-1", "writer-1"]
    coder, writer = rows["coder-1"], rows["writer-1"]
    assert (coder["executions"], coder["succeeded"], coder["failed"], coder["aborted"]) == (2, 1, 1, 0)
    assert coder["avg_duration_ms"] == 1_200_000
    assert coder["max_duration_ms"] == 1_800_000
    assert coder["failure_rate"] == 0.5
    assert coder["tokens"] == 1700
    assert coder["cost_usd"] == "0.01300000"
    assert coder["busy_ms"] == 2_400_000
    assert coder["utilization_pct"] == 2.84  # 2.4e6 ms busy / 84.6e6 ms in 23.5 h
    assert coder["status"] == "active"
    assert (writer["executions"], writer["avg_duration_ms"], writer["failure_rate"]) == (2, 1_050_000, 0.0)
    assert (writer["tokens"], writer["cost_usd"]) == (4000, "0.50000000")
    # 09:50-10:00 counts too: busy time is split over the hours it ran.
    assert (writer["busy_ms"], writer["utilization_pct"]) == (2_100_000, 2.48)
    assert writer["status"] == "offline"


def test_it_divides_busy_time_by_the_agents_replicas(viewer_api, ledger, agent, travel):
    Agent.objects.filter(pk=agent.pk).update(scale=2)

    assert _rows(viewer_api)["coder-1"]["utilization_pct"] == 1.42


def test_it_lists_idle_agents_with_zero_figures(viewer_api, agent, travel):
    row = _rows(viewer_api)["coder-1"]

    assert (row["executions"], row["avg_duration_ms"], row["failure_rate"]) == (0, None, None)
    assert (row["cost_usd"], row["utilization_pct"]) == ("0.00000000", 0.0)


def test_it_takes_a_longer_window(viewer_api, ledger, travel):
    coder = _rows(viewer_api, "business=acme&window=7d")["coder-1"]

    assert coder["executions"] == 3
    assert coder["cost_usd"] == "100.01300000"


def test_it_shows_only_the_callers_agents(viewer_api, ledger, travel):
    assert "spy" not in _rows(viewer_api, "")


def test_it_costs_a_fixed_number_of_queries(
    viewer_api, ledger, make_execution, travel, django_assert_max_num_queries
):
    from agents.services import create_agent
    from tests.observability.conftest import at

    for n in range(20):
        extra = create_agent(business=Agent.objects.get(name="coder-1").business, name=f"bulk-{n}")
        make_execution(agent=extra, started_at=at(11), finished_at=at(11, 1))
    viewer_api.get("/api/v1/dashboard/agents")
    with django_assert_max_num_queries(5):
        assert len(viewer_api.get("/api/v1/dashboard/agents").json()["results"]) == 22
