"""/global/analytics, /global/workload, /global/bottlenecks, /global/costs: figures from the rollups."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agents.services import create_agent
from executions.models import Execution
from executions.signals import execution_finished
from governance.models import Budget

pytestmark = pytest.mark.django_db

PAGES = ["/global/analytics", "/global/workload", "/global/bottlenecks", "/global/costs"]


@pytest.fixture
def finished(agent):
    """A terminal ledger row announced as the ledger does, so the rollups count it."""

    def make(agent=agent, **fields):
        now = timezone.now()
        fields.setdefault("status", "success")
        fields.setdefault("model", "gpt-4o")
        fields.setdefault("started_at", now - timedelta(minutes=2))
        fields.setdefault("finished_at", now - timedelta(minutes=1))
        fields.setdefault("duration_ms", 60_000)
        execution = Execution.objects.create(business_id=agent.business_id, agent=agent, **fields)
        execution_finished.send(sender=Execution, execution=execution)
        return execution

    return make


@pytest.mark.parametrize("path", PAGES)
def test_each_page_renders_with_no_data_at_all(viewer_page, path):
    response = viewer_page.get(path)
    assert response.status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_each_page_sends_anonymous_visitors_to_sign_in(client, path):
    assert client.get(path).status_code == 302


def test_analytics_shows_the_rollups_figures(viewer_page, finished, agent):
    finished(cost_usd=Decimal("1.25"), total_tokens=1000)
    finished(status="failed", cost_usd=Decimal("0.75"), total_tokens=500)
    body = viewer_page.get("/global/analytics").content.decode()
    assert "$2.00" in body  # the window's cost
    assert "50.0%" in body  # success rate
    assert "1,500" in body  # tokens


def test_analytics_never_counts_another_business(viewer_page, finished, stranger_agent):
    finished(agent=stranger_agent, cost_usd=Decimal("9.99"))
    body = viewer_page.get("/global/analytics").content.decode()
    assert "9.99" not in body
    assert "their-agent" not in body


def test_costs_charts_spend_by_agent_and_model_and_projects_budgets(viewer_page, business, finished, agent):
    finished(cost_usd=Decimal("3.00"), model="gpt-4o")
    finished(cost_usd=Decimal("1.00"), model="claude-sonnet")
    Budget.objects.create(business=business, period="month", limit_usd=Decimal("100"))
    body = viewer_page.get("/global/costs?window=7d").content.decode()
    assert "claude-sonnet" in body
    assert "$4.00" in body
    assert 'id="chart-model"' in body
    assert "Month-end projection" in body and "$100.00" in body


def test_bottlenecks_lists_stuck_executions(viewer_page, agent):
    stuck = Execution.objects.create(
        business_id=agent.business_id,
        agent=agent,
        status="running",
        started_at=timezone.now() - timedelta(hours=3),
    )
    body = viewer_page.get("/global/bottlenecks?stuck_after=1h").content.decode()
    assert f'href="/global/executions/{stuck.pk}"' in body


def test_workload_shows_queue_depth_per_agent(viewer_page, agent):
    for _ in range(3):
        Execution.objects.create(business_id=agent.business_id, agent=agent, status="pending")
    body = viewer_page.get("/global/workload").content.decode()
    assert 'class="num warn">3<' in body


def test_a_bad_window_falls_back_to_the_default(viewer_page):
    assert viewer_page.get("/global/analytics?window=forever").status_code == 200


@pytest.mark.parametrize("path", PAGES)
def test_each_page_costs_a_fixed_number_of_queries(
    viewer_page, business, finished, path, django_assert_max_num_queries
):
    for i in range(15):
        finished(
            agent=create_agent(business=business, name=f"w{i}", capabilities=["x"]), cost_usd=Decimal("0.1")
        )
    Budget.objects.create(business=business, period="month", limit_usd=Decimal("10"))
    Budget.objects.create(business=business, period="day", limit_usd=Decimal("1"))
    with django_assert_max_num_queries(20):
        assert viewer_page.get(path).status_code == 200
