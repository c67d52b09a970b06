from decimal import Decimal

import pytest

from governance import budgets
from governance.models import AuditEntry, Budget
from mission_control.models import Event


def create(api, **body):
    return api.post(
        "/api/v1/budgets/", {"business": "acme", "period": "month", "limit_usd": "25", **body}, format="json"
    )


@pytest.mark.django_db
def test_an_admin_creates_a_budget(api_as, business):
    response = create(api_as("admin"), soft_limit_pct=75)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["limit_usd"], body["spent_usd"], body["remaining_usd"]) == (
        "25.000000",
        "0.000000",
        "25.000000",
    )
    assert body["agent"] is None and body["state"] == "ok"
    budget = Budget.objects.get()
    assert (budget.limit_usd, budget.soft_limit_pct) == (Decimal("25"), 75)
    assert AuditEntry.objects.get(action="budget.create").target_id == str(budget.pk)
    assert Event.objects.filter(kind="budget.changed").count() == 1


@pytest.mark.django_db
def test_an_operator_cannot_create_a_budget(operator_api):
    assert create(operator_api).status_code == 403
    assert not Budget.objects.exists()


@pytest.mark.django_db
def test_a_budget_for_another_business_is_a_404(api_as, other_business):
    response = api_as("admin").post(
        "/api/v1/budgets/", {"business": "globex", "period": "day", "limit_usd": "1"}, format="json"
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_an_agent_of_another_business_is_refused(api_as, other_business):
    from agents.services import create_agent

    theirs = create_agent(business=other_business, name="spy")
    response = create(api_as("admin"), agent=theirs.pk)
    assert response.status_code == 400
    assert "agent" in response.json()["fields"]


@pytest.mark.django_db
def test_a_second_budget_for_the_same_scope_is_a_409(api_as, agent):
    api = api_as("admin")
    assert create(api, agent=agent.pk).status_code == 201
    response = create(api, agent=agent.pk)
    assert (response.status_code, response.json()["error"]) == (409, "budget_exists")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"limit_usd": "-1"},
        {"period": "fortnight"},
        {"soft_limit_pct": 0},
        {"soft_limit_pct": 101},
        {"colour": "red"},
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_as, body):
    response = create(api_as("admin"), **body)
    assert response.status_code == 400
    assert set(response.json()["fields"]) == set(body) - {"business"}
    assert not Budget.objects.exists()


@pytest.mark.django_db
def test_reads_show_live_spend_reserved_and_remaining(viewer_api, business, agent, make_budget):
    budget = make_budget("10")
    budgets.settle(business=business, agent_id=agent.pk, ref="a", actual=Decimal("8.5"))
    budgets.reserve(business=business, agent_id=agent.pk, ref="b", estimate=Decimal("1"))
    body = viewer_api.get(f"/api/v1/budgets/{budget.pk}").json()
    assert (body["spent_usd"], body["reserved_usd"], body["remaining_usd"]) == (
        "8.500000",
        "1.000000",
        "0.500000",
    )
    assert body["state"] == "soft_limit" and body["used_pct"] == 85.0


@pytest.mark.django_db
def test_the_list_costs_a_fixed_number_of_queries(
    viewer_api, business, make_budget, django_assert_max_num_queries
):
    for i in range(1, 6):
        make_budget(str(i), agent_id=1000 + i)
    viewer_api.get("/api/v1/budgets/")  # warm the token's last-used stamp
    with django_assert_max_num_queries(7):  # +2: the trailing burn rate projecting every budget
        response = viewer_api.get("/api/v1/budgets/?business=acme")
    assert len(response.json()["results"]) == 5


@pytest.mark.django_db
def test_the_list_shows_only_the_callers_businesses(viewer_api, other_business, make_budget):
    make_budget("1")
    make_budget("2", on=other_business)
    assert [b["business"] for b in viewer_api.get("/api/v1/budgets").json()["results"]] == ["acme"]


@pytest.mark.django_db
def test_an_admin_changes_the_limit_and_it_is_audited(api_as, make_budget):
    budget = make_budget("10")
    response = api_as("admin").patch(f"/api/v1/budgets/{budget.pk}/", {"limit_usd": "12.5"}, format="json")
    assert response.status_code == 200
    budget.refresh_from_db()
    assert budget.limit_usd == Decimal("12.5")
    entry = AuditEntry.objects.get(action="budget.update")
    assert (entry.before["limit_usd"], entry.after["limit_usd"]) == ("10.000000", "12.500000")


@pytest.mark.django_db
def test_the_scope_of_a_budget_cannot_be_patched(api_as, make_budget):
    budget = make_budget("10")
    response = api_as("admin").patch(f"/api/v1/budgets/{budget.pk}", {"period": "day"}, format="json")
    assert response.status_code == 400


@pytest.mark.django_db
def test_another_business_budget_is_a_404(api_as, other_business, make_budget):
    theirs = make_budget("1", on=other_business)
    api = api_as("owner")
    assert api.get(f"/api/v1/budgets/{theirs.pk}").status_code == 404
    assert api.patch(f"/api/v1/budgets/{theirs.pk}", {"limit_usd": "9"}, format="json").status_code == 404


@pytest.mark.django_db
def test_an_admin_deletes_a_budget(api_as, make_budget):
    budget = make_budget("10")
    assert api_as("admin").delete(f"/api/v1/budgets/{budget.pk}").status_code == 204
    assert not Budget.objects.exists()
    assert AuditEntry.objects.filter(action="budget.delete").count() == 1
