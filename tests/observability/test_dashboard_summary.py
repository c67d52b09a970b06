"""Every dashboard figure on a small known ledger, to the unit. The clock: 2025-03-10 12:30 UTC,
so a 24 h window is the 24 hourly buckets from 2025-03-09 13:00, a span of 23.5 hours."""

from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.services import create_agent
from tests.conftest import agent_client, client_for
from tests.observability.conftest import at

pytestmark = pytest.mark.django_db

NOW = at(12, 30)


@pytest.fixture
def ledger(agent, second_agent, other_business, make_execution):
    """coder-1 (online, active) and writer-1 (never seen): four executions in the window, one before."""
    with time_machine.travel(at(12, 29), tick=False):
        beat = agent_client(agent).post("/api/v1/agent/heartbeat", {"status": "active"}, format="json")
        assert beat.status_code == 200
    make_execution(
        trigger="cron",
        cron_job_id=3,
        started_at=at(10),
        finished_at=at(10, 30),
        duration_ms=1_800_000,
        input_tokens=1000,
        output_tokens=500,
        cache_read_tokens=100,
        cost="0.012",
    )
    make_execution(
        trigger="cron",
        cron_job_id=3,
        status="failed",
        started_at=at(11),
        finished_at=at(11, 10),
        duration_ms=600_000,
        input_tokens=200,
        cost="0.001",
    )
    make_execution(
        agent=second_agent,
        trigger="manual",
        model="claude-3-5",
        started_at=at(9, 50),
        finished_at=at(10, 20),
        duration_ms=1_800_000,
        input_tokens=3000,
        output_tokens=1000,
        cost="0.5",
    )
    make_execution(
        agent=second_agent,
        model="claude-3-5",
        status="aborted",
        started_at=at(12),
        finished_at=at(12, 5),
        duration_ms=300_000,
    )
    make_execution(
        started_at=at(12, 0, day=9), finished_at=at(12, 30, day=9), duration_ms=1_800_000, cost="100"
    )
    make_execution(status="running", started_at=at(12, 20))
    make_execution(status="pending", created_at=at(12, 25))
    make_execution(status="pending", created_at=at(12, 26))
    make_execution(agent=second_agent, status="pending", created_at=at(12, 27))
    theirs = create_agent(business=other_business, name="spy")
    make_execution(agent=theirs, started_at=at(11), finished_at=at(11, 1), cost="7")
    make_execution(agent=theirs, status="running", started_at=at(11))


@pytest.fixture
def travel():
    with time_machine.travel(NOW, tick=False):
        yield


def test_it_sums_up_the_last_24_hours(viewer_api, ledger, travel):
    body = viewer_api.get("/api/v1/dashboard/summary?business=acme").json()

    assert body["since"] == "2025-03-09T13:00:00Z"
    assert body["agents"] == {"total": 2, "idle": 0, "active": 1, "blocked": 0, "offline": 1}
    assert body["executions"] == {
        "running": 1,
        "queued": 3,
        "finished": 4,
        "succeeded": 2,
        "failed": 1,
        "aborted": 1,
    }
    assert body["success_rate"] == 0.5
    assert body["failure_rate"] == 0.25
    assert body["tokens"] == {"input": 4200, "output": 1500, "cache_read": 100, "total": 5700}
    assert body["cost_usd"] == "0.51300000"
    assert body["cost_burn_rate_usd_per_hour"] == "0.02182979"  # 0.513 / 23.5
    assert body["cron_executions"] == 2
    assert body["cron_success_rate"] == 0.5


def test_it_covers_every_business_the_caller_sees_when_none_is_named(viewer_api, ledger, travel):
    body = viewer_api.get("/api/v1/dashboard/summary").json()

    assert body["business"] is None
    assert body["cost_usd"] == "0.51300000"
    assert body["executions"]["running"] == 1


def test_it_shows_a_superuser_every_business(make_member, ledger, travel):
    admin = client_for(make_member("owner", None, is_superuser=True))

    body = admin.get("/api/v1/dashboard/summary").json()

    assert body["cost_usd"] == "7.51300000"
    assert body["executions"]["running"] == 2


def test_it_widens_the_window_on_request(viewer_api, ledger, travel):
    body = viewer_api.get("/api/v1/dashboard/summary?business=acme&window=2d").json()

    assert body["since"] == "2025-03-08T13:00:00Z"
    assert body["cost_usd"] == "100.51300000"
    assert body["executions"]["finished"] == 5


def test_it_answers_null_rates_when_nothing_finished(viewer_api, business, travel):
    body = viewer_api.get("/api/v1/dashboard/summary").json()

    assert body["success_rate"] is None
    assert body["cron_success_rate"] is None
    assert body["cost_usd"] == "0.00000000"


def test_it_refuses_a_bad_window(viewer_api, travel):
    response = viewer_api.get("/api/v1/dashboard/summary?window=forever")

    assert response.status_code == 400
    assert response.json()["fields"]["window"]


def test_it_hides_other_businesses(viewer_api, ledger, travel):
    assert viewer_api.get("/api/v1/dashboard/summary?business=globex").status_code == 404


def test_it_refuses_agent_keys_and_anonymous_callers(agent, client, travel):
    assert agent_client(agent).get("/api/v1/dashboard/summary").status_code == 403
    assert client.get("/api/v1/dashboard/summary").status_code == 401


def test_it_costs_a_fixed_number_of_queries_whatever_the_size(viewer_api, ledger, make_execution, travel):
    def count() -> int:
        viewer_api.get("/api/v1/dashboard/summary?business=acme")  # warm the token's last-used stamp
        with CaptureQueriesContext(connection) as queries:
            assert viewer_api.get("/api/v1/dashboard/summary?business=acme").status_code == 200
        return len(queries)

    small = count()
    for n in range(30):
        extra = create_agent(business=ledger_business(viewer_api), name=f"bulk-{n}")
        make_execution(agent=extra, started_at=at(11), finished_at=at(11, 1), cost="0.1")
        make_execution(agent=extra, status="pending", created_at=at(12))
    assert count() == small
    assert small <= 7


def ledger_business(api):
    from governance.models import Business

    return Business.objects.get(slug="acme")


def test_it_keeps_money_exact_beyond_float_precision(viewer_api, agent, make_execution, travel):
    for _ in range(3):
        make_execution(started_at=at(11), finished_at=at(11, 1), cost="0.10000001")

    assert viewer_api.get("/api/v1/dashboard/summary").json()["cost_usd"] == "0.30000003"
    assert Decimal("0.30000003") == sum([Decimal("0.10000001")] * 3)
