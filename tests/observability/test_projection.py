"""Month-end projection on the known ledger (see conftest), at 2025-03-10 12:30 UTC: the trailing
7 days are the 168 hourly buckets from 2025-03-03 13:00, a span of 167.5 h; 515.5 h remain in March."""

from decimal import Decimal

import pytest

from governance.budgets import settle
from governance.models import Budget, Business

pytestmark = pytest.mark.django_db

MTD = Decimal("100.513")
BURN = MTD / Decimal("167.5")


def _usd(value: Decimal) -> str:
    return str(value.quantize(Decimal("1e-8")))


@pytest.fixture
def budgets(ledger, agent, second_agent, travel):
    business = Business.objects.get(slug="acme")
    monthly = Budget.objects.create(
        business=business, period="month", limit_usd=Decimal(300), soft_limit_pct=80
    )
    daily = Budget.objects.create(
        business=business, agent_id=second_agent.pk, period="day", limit_usd=Decimal(1), soft_limit_pct=80
    )
    settle(business=business, agent_id=agent.pk, ref="execution:a", actual=Decimal("100.013"))
    settle(business=business, agent_id=second_agent.pk, ref="execution:b", actual=Decimal("0.5"))
    return monthly, daily


def test_it_projects_the_month_end_from_the_trailing_burn_rate(viewer_api, ledger, travel):
    body = viewer_api.get("/api/v1/dashboard/projection?business=acme").json()

    (acme,) = body["results"]
    assert acme["month_start"] == "2025-03-01T00:00:00Z"
    assert acme["month_end"] == "2025-04-01T00:00:00Z"
    assert acme["month_to_date_usd"] == "100.51300000"
    assert acme["burn_rate_usd_per_hour"] == _usd(BURN)
    assert acme["projected_month_end_usd"] == _usd(MTD + BURN * Decimal("515.5"))
    assert acme["budgets"] == []


def test_it_projects_each_budget_to_the_end_of_its_window(viewer_api, budgets, travel):
    monthly, daily = budgets

    (acme,) = viewer_api.get("/api/v1/dashboard/projection?business=acme").json()["results"]

    month, day = acme["budgets"]
    assert (month["budget"], month["period"], month["limit_usd"]) == (monthly.pk, "month", "300.00000000")
    assert month["spent_usd"] == "100.51300000"
    assert month["projected_at"] == "2025-04-01T00:00:00Z"
    assert month["projected_usd"] == _usd(MTD + BURN * Decimal("515.5"))
    assert (month["will_pass_soft_limit"], month["will_exceed"]) == (True, True)
    writer_burn = Decimal("0.5") / Decimal("167.5")
    assert (day["budget"], day["spent_usd"], day["projected_at"]) == (
        daily.pk,
        "0.50000000",
        "2025-03-11T00:00:00Z",
    )
    assert day["burn_rate_usd_per_hour"] == _usd(writer_burn)
    assert day["projected_usd"] == _usd(Decimal("0.5") + writer_burn * Decimal("11.5"))
    assert (day["will_pass_soft_limit"], day["will_exceed"]) == (False, False)
    assert day["remaining_usd"] == "0.50000000"


def test_it_costs_a_fixed_number_of_queries(viewer_api, budgets, travel, django_assert_max_num_queries):
    viewer_api.get("/api/v1/dashboard/projection")
    with django_assert_max_num_queries(9):
        viewer_api.get("/api/v1/dashboard/projection")
