"""Every dashboard figure on a small known ledger, to the unit. The clock: 2025-03-10 12:30 UTC,
so a 24 h window is the 24 hourly buckets from 2025-03-09 13:00, a span of 23.5 hours."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.services import create_agent
from tests.conftest import agent_client, client_for
from tests.observability.conftest import at

pytestmark = pytest.mark.django_db


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
    # Cron runs and their success are the cron runs' own (these executions have none behind them).
    assert (body["cron_runs"], body["cron_success_rate"]) == (0, None)


def test_it_counts_cron_runs_scheduled_in_the_window(viewer_api, agent, other_business, travel):
    from workflows.models import CronJob, CronRun

    job = CronJob.objects.create(business=agent.business, name="nightly", schedule="0 * * * *", agent=agent)
    other = create_agent(business=other_business, name="theirs")
    theirs = CronJob.objects.create(business=other_business, name="theirs", schedule="0 * * * *", agent=other)
    for hour, status, which in [
        (11, "success", job),
        (10, "failed", job),
        (9, "success", job),
        (8, "missed", job),  # never ran: not a finished run
        (12, "running", job),
        (11, "failed", theirs),  # another business
    ]:
        CronRun.objects.create(cron_job=which, scheduled_for=at(hour), status=status)
    CronRun.objects.create(cron_job=job, scheduled_for=at(12, day=9), status="failed")  # before the window

    body = viewer_api.get("/api/v1/dashboard/summary?business=acme").json()

    assert (body["cron_runs"], body["cron_runs_succeeded"]) == (3, 2)
    assert body["cron_success_rate"] == 0.6667


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
