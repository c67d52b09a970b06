"""Cost series on the known ledger (see conftest), at 2025-03-10 12:30 UTC."""

import pytest

from governance.models import Business

pytestmark = pytest.mark.django_db


def _costs(api, query):
    response = api.get(f"/api/v1/dashboard/costs?{query}")
    assert response.status_code == 200, response.content
    return response.json()


def _nonzero(series):
    return {p["ts"]: p["cost_usd"] for p in series["points"] if p["executions"]}


def test_it_gives_a_daily_series_per_model(viewer_api, ledger, travel):
    body = _costs(viewer_api, "business=acme&bucket=day&window=7d&group_by=model")

    assert body["since"] == "2025-03-04T00:00:00Z"
    assert body["total_usd"] == "100.51300000"
    claude, gpt = body["series"]
    assert (claude["key"], claude["total_usd"]) == ("claude-3-5", "0.50000000")
    assert (gpt["key"], gpt["total_usd"]) == ("gpt-4o", "100.01300000")
    assert [p["ts"][:10] for p in gpt["points"]] == [f"2025-03-{d:02d}" for d in range(4, 11)]
    assert _nonzero(gpt) == {"2025-03-09T00:00:00Z": "100.00000000", "2025-03-10T00:00:00Z": "0.01300000"}
    assert gpt["points"][-1]["tokens"] == 1700


def test_it_gives_an_hourly_series_per_agent(viewer_api, ledger, agent, second_agent, travel):
    body = _costs(viewer_api, "business=acme&bucket=hour&window=24h&group_by=agent")

    coder, writer = body["series"]
    assert (coder["agent"], coder["label"], writer["agent"]) == (agent.pk, "coder-1", second_agent.pk)
    assert len(coder["points"]) == 24
    assert coder["points"][0]["ts"] == "2025-03-09T13:00:00Z"
    assert _nonzero(coder) == {"2025-03-10T10:00:00Z": "0.01200000", "2025-03-10T11:00:00Z": "0.00100000"}
    assert _nonzero(writer) == {"2025-03-10T10:00:00Z": "0.50000000", "2025-03-10T12:00:00Z": "0.00000000"}
    assert body["total_usd"] == "0.51300000"


def test_it_gives_one_total_series_by_default(viewer_api, ledger, travel):
    body = _costs(viewer_api, "")

    assert [s["key"] for s in body["series"]] == ["total"]
    assert body["bucket"] == "day"
    assert body["total_usd"] == "100.51300000"


def test_it_cuts_days_at_the_businesss_midnight_across_a_dst_change(viewer_api, ledger, travel):
    # New York moved to summer time on 2025-03-09: that day starts at 05:00 UTC, the next at 04:00.
    Business.objects.filter(slug="acme").update(timezone="America/New_York")

    body = _costs(viewer_api, "business=acme&bucket=day&window=2d")

    assert body["timezone"] == "America/New_York"
    points = body["series"][0]["points"]
    assert [(p["ts"], p["cost_usd"]) for p in points] == [
        ("2025-03-09T00:00:00-05:00", "100.00000000"),
        ("2025-03-10T00:00:00-04:00", "0.51300000"),
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [("bucket=week", "bucket"), ("group_by=color", "group_by"), ("bucket=hour&window=30d", "window")],
)
def test_it_refuses_bad_parameters(viewer_api, travel, query, field):
    response = viewer_api.get(f"/api/v1/dashboard/costs?{query}")

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_it_costs_a_fixed_number_of_queries(viewer_api, ledger, travel, django_assert_max_num_queries):
    viewer_api.get("/api/v1/dashboard/costs?group_by=agent")
    with django_assert_max_num_queries(5):
        viewer_api.get("/api/v1/dashboard/costs?group_by=agent&bucket=hour&window=3d")
