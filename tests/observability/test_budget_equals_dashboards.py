"""A budget's "spent" and the dashboards' cost for the same window are one figure, also for work that
straddles the window's edge: the rollups count an execution in the hour it finished, and budgets book
it in the window it finished in (its hold freed where it was taken)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine

from executions.services import start_execution
from governance.models import Budget, BudgetWindow
from governance.reconcile import window_drift
from tests.conftest import agent_client

pytestmark = pytest.mark.django_db

# Europe/Paris: the local month of December begins at 2026-11-30 23:00 UTC.
BEFORE_EDGE = datetime(2026, 11, 30, 22, 58, tzinfo=UTC)  # 23:58 local, November
AFTER_EDGE = datetime(2026, 11, 30, 23, 2, tzinfo=UTC)  # 00:02 local, December
LATER = datetime(2026, 11, 30, 23, 20, tzinfo=UTC)
DONE = {"status": "success", "model": "gpt-4o", "model_provider": "openai", "input_tokens": 90_000}


@pytest.fixture
def paris(business):
    business.timezone = "Europe/Paris"
    business.save()
    return Budget.objects.create(business=business, period="month", limit_usd=Decimal(100), soft_limit_pct=80)


def figures(api) -> tuple[str, str]:
    (budget,) = api.get("/api/v1/budgets/").json()["results"]
    (projection,) = api.get("/api/v1/dashboard/projection?business=acme").json()["results"]
    assert projection["month_start"] == "2026-11-30T23:00:00Z"
    return Decimal(budget["spent_usd"]), Decimal(projection["month_to_date_usd"])


def test_live_work_started_before_the_month_edge_counts_in_the_month_it_finished(
    paris, make_agent, viewer_api, django_capture_on_commit_callbacks
):
    puller = make_agent("puller", mode="pull")
    agent = agent_client(puller)
    with time_machine.travel(BEFORE_EDGE, tick=False), django_capture_on_commit_callbacks(execute=True):
        execution = start_execution(agent=puller, trigger="manual")
        claimed = agent.post("/api/v1/agent/executions/claim", {"wait_seconds": 0}, format="json")
        assert claimed.status_code == 200 and claimed.json()["id"] == execution.pk
    with time_machine.travel(AFTER_EDGE, tick=False), django_capture_on_commit_callbacks(execute=True):
        answer = agent.patch(f"/api/v1/executions/{execution.pk}", DONE, format="json")
        assert answer.status_code == 200, answer.content
        cost = Decimal(answer.json()["cost_usd"])
    assert cost > 0
    with time_machine.travel(LATER, tick=False):
        spent, month_to_date = figures(viewer_api)
    assert spent == month_to_date == cost.quantize(Decimal("1e-8"))
    november = BudgetWindow.objects.get(window_start=datetime(2026, 10, 31, 23, tzinfo=UTC))
    assert (november.reserved_usd, november.spent_usd) == (0, 0)  # its hold freed where it was taken
    assert window_drift(BudgetWindow.objects.all()) == []


def test_a_report_that_straddles_the_month_edge_counts_in_the_month_it_finished(
    paris, agent_api, viewer_api, django_capture_on_commit_callbacks
):
    body = {**DONE, "started_at": "2026-11-30T22:58:00Z", "finished_at": "2026-11-30T23:02:00Z"}
    with time_machine.travel(LATER, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            single = agent_api.post("/api/v1/executions/", {**body, "external_id": "one"}, format="json")
            batch = agent_api.post(
                "/api/v1/executions/batch", {"executions": [{**body, "external_id": "two"}]}, format="json"
            )
        assert single.status_code == 201 and batch.status_code == 207, batch.content
        spent, month_to_date = figures(viewer_api)
    assert spent == month_to_date == 2 * Decimal(single.json()["cost_usd"])
