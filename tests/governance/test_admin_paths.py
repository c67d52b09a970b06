"""The admin writes budgets and policies through the API's services (issue 14, item 1): the same
refusals (shown on the form, nothing written), the same audit entries and events."""

from decimal import Decimal

import pytest
from django.test import Client

from governance.models import AuditEntry, Budget, Business, ExecutionPolicy
from mission_control.models import Event


@pytest.fixture
def root(make_member):
    client = Client()
    client.force_login(make_member("owner", None, username="root", is_superuser=True, is_staff=True))
    return client


def budget_form(business, agent, **overrides):
    form = {
        "business": business.pk,
        "agent_id": agent.pk,
        "model": "",
        "period": "day",
        "limit_usd": "3",
        "soft_limit_pct": "80",
        "enabled": "on",
    }
    return {**form, **overrides}


@pytest.mark.django_db
def test_it_adds_a_budget_audited_and_announced_like_the_api(root, business, agent):
    response = root.post("/admin/governance/budget/add/", budget_form(business, agent, model=" gpt-4o "))
    assert response.status_code == 302
    budget = Budget.objects.get()
    assert (budget.agent_id, budget.model, budget.limit_usd) == (agent.pk, "gpt-4o", Decimal("3"))
    entry = AuditEntry.objects.get(action="budget.create")
    assert (entry.actor, entry.target_id, entry.after["limit_usd"]) == ("root", str(budget.pk), "3.000000")
    assert Event.objects.filter(kind="budget.changed", data__budget=budget.pk).count() == 1


@pytest.mark.django_db
def test_it_refuses_a_second_budget_for_a_scope_with_the_apis_sentence(root, business, agent):
    assert root.post("/admin/governance/budget/add/", budget_form(business, agent)).status_code == 302
    response = root.post("/admin/governance/budget/add/", budget_form(business, agent, limit_usd="9"))
    assert response.status_code == 200  # the form again, not a 500
    assert "A budget for this scope and period exists already" in response.content.decode()
    assert list(Budget.objects.values_list("limit_usd", flat=True)) == [Decimal("3")]
    assert AuditEntry.objects.filter(action="budget.create").count() == 1


@pytest.mark.django_db
def test_it_changes_a_budget_under_the_services_lock_and_audit(root, business, agent, make_budget):
    budget = make_budget("10", agent_id=agent.pk)
    response = root.post(
        f"/admin/governance/budget/{budget.pk}/change/",
        {"limit_usd": "15", "soft_limit_pct": "90", "enabled": "on"},
    )
    assert response.status_code == 302
    budget.refresh_from_db()
    assert (budget.limit_usd, budget.soft_limit_pct) == (Decimal("15"), 90)
    entry = AuditEntry.objects.get(action="budget.update")
    assert (entry.before["limit_usd"], entry.after["limit_usd"]) == ("10.000000", "15.000000")
    assert Event.objects.filter(kind="budget.changed", data__budget=budget.pk).count() == 1


@pytest.mark.django_db
def test_it_records_nothing_for_a_budget_saved_unchanged(root, business, make_budget):
    budget = make_budget("10")
    root.post(f"/admin/governance/budget/{budget.pk}/change/", {"limit_usd": "10", "soft_limit_pct": "80"})
    # Unchanged but for "enabled" (unticked): one entry; saved again the same: none more.
    root.post(f"/admin/governance/budget/{budget.pk}/change/", {"limit_usd": "10", "soft_limit_pct": "80"})
    assert AuditEntry.objects.filter(action="budget.update").count() == 1


def policy_form(business, **overrides):
    form = {"allowed_triggers": "[]", "allowed_models": "[]", "allowed_providers": "[]"}
    form |= {"min_run_role": "operator", "rate_limit": ""}
    if business is not None:
        form |= {"business": business.pk, "agent_id": ""}
    return {**form, **overrides}


@pytest.mark.django_db
def test_it_adds_a_policy_audited_and_announced_like_the_api(root, business):
    response = root.post(
        "/admin/governance/executionpolicy/add/",
        policy_form(business, allowed_triggers='["cron"]'),
    )
    assert response.status_code == 302
    policy = ExecutionPolicy.objects.get()
    assert policy.allowed_triggers == ["cron"]
    entry = AuditEntry.objects.get(action="policy.create")
    assert (entry.actor, entry.target_id, entry.after["allowed_triggers"]) == ("root", "business", ["cron"])
    assert Event.objects.filter(kind="policy.changed").count() == 1


@pytest.mark.django_db
def test_it_refuses_a_second_policy_for_a_scope_with_the_apis_sentence(root, business):
    ExecutionPolicy.objects.create(business=business)
    response = root.post(
        "/admin/governance/executionpolicy/add/",
        policy_form(business, allowed_triggers='["cron"]'),
    )
    assert response.status_code == 200
    assert "That scope already has a policy" in response.content.decode()
    assert ExecutionPolicy.objects.count() == 1
    assert not AuditEntry.objects.filter(action="policy.create").exists()


@pytest.mark.django_db
def test_it_changes_a_policy_audited_and_announced(root, business):
    policy = ExecutionPolicy.objects.create(business=business)
    response = root.post(
        f"/admin/governance/executionpolicy/{policy.pk}/change/",
        policy_form(None, allowed_models='["gpt-4o-mini"]', rate_limit="60/min"),
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.allowed_models, policy.rate_limit) == (["gpt-4o-mini"], "60/min")
    entry = AuditEntry.objects.get(action="policy.update")
    assert entry.after["allowed_models"] == ["gpt-4o-mini"] and entry.before["allowed_models"] != [
        "gpt-4o-mini"
    ]
    assert Event.objects.filter(kind="policy.changed").count() == 1


def business_form(**fields):
    inline = {"memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}
    return {"name": "Initech", "slug": "initech", "timezone": "UTC", **inline, **fields}


@pytest.mark.django_db
def test_it_adds_a_business_like_the_api_with_its_creator_as_owner(root):
    assert root.post("/admin/governance/business/add/", business_form()).status_code == 302
    business = Business.objects.get(slug="initech")
    assert list(business.memberships.values_list("user__username", "role")) == [("root", "owner")]
    assert Event.objects.filter(kind="business.created", business_id=business.pk).count() == 1


@pytest.mark.django_db
def test_it_renames_a_business_audited(root, business):
    response = root.post(
        f"/admin/governance/business/{business.pk}/change/",
        business_form(name="Acme Corp", timezone="Europe/Paris"),
    )
    assert response.status_code == 302
    business.refresh_from_db()
    assert (business.name, business.slug, business.timezone) == ("Acme Corp", "acme", "Europe/Paris")
    entry = AuditEntry.objects.get(action="business.update")
    assert (entry.before["name"], entry.after["name"]) == ("Acme", "Acme Corp")
