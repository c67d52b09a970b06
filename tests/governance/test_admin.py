from decimal import Decimal

import pytest
from django.test import Client

from governance import audit, budgets
from governance.controls import emergency_stop_active
from governance.models import AuditEntry, Budget, EmergencyStop, ExecutionPolicy, Membership
from governance.stops import engage_emergency_stop


@pytest.fixture
def root(make_member):
    client = Client()
    client.force_login(make_member("owner", None, username="root", is_superuser=True, is_staff=True))
    return client


@pytest.fixture
def staff_admin(make_member, business):
    """A staff user who is an admin (not owner) of the business, with the admin's view rights."""
    from django.contrib.auth.models import Permission

    user = make_member("admin", business, username="staffer", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="governance"))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model",
    ["business", "membership", "budget", "executionpolicy", "operatortoken", "emergencystop", "auditentry"],
)
def test_every_governance_page_renders(root, business, make_budget, model):
    make_budget("5")
    ExecutionPolicy.objects.create(business=business, allowed_triggers=["cron"])
    audit.record(actor="x", action="budget.update", business=business)
    engage_emergency_stop(business=business, reason="r", actor="x")
    assert root.get(f"/admin/governance/{model}/").status_code == 200
    row = {"business": business.pk, "emergencystop": EmergencyStop.objects.get().pk}.get(model)
    if row:
        assert root.get(f"/admin/governance/{model}/{row}/change/").status_code == 200


@pytest.mark.django_db
def test_the_budget_list_shows_live_spend_in_a_fixed_number_of_queries(
    root, business, agent, make_budget, django_assert_max_num_queries
):
    for i in range(1, 4):
        make_budget(str(i), agent_id=1000 + i)
    make_budget("10")
    budgets.settle(business=business, agent_id=agent.pk, ref="a", actual=Decimal("2.5"))
    root.get("/admin/governance/budget/")
    with django_assert_max_num_queries(12) as captured:
        page = root.get("/admin/governance/budget/").content.decode()
    assert "$2.50" in page and "$7.50" in page
    few = len(captured)
    for i in range(4, 12):
        make_budget(str(i), agent_id=1000 + i)
    with django_assert_max_num_queries(few):
        root.get("/admin/governance/budget/")


@pytest.mark.django_db
def test_an_admin_edits_a_budget_and_it_is_audited(root, business, make_budget):
    budget = make_budget("10")
    response = root.post(
        f"/admin/governance/budget/{budget.pk}/change/",
        {"limit_usd": "15", "soft_limit_pct": "90", "enabled": "on"},
    )
    assert response.status_code == 302
    budget.refresh_from_db()
    assert (budget.limit_usd, budget.soft_limit_pct) == (Decimal("15"), 90)
    entry = AuditEntry.objects.get(action="budget.update")
    assert (entry.actor, entry.after["limit_usd"]) == ("root", "15.000000")


@pytest.mark.django_db
def test_adding_a_budget_in_the_admin_is_audited(root, business):
    response = root.post(
        "/admin/governance/budget/add/",
        {
            "business": business.pk,
            "agent_id": "",
            "model": "",
            "period": "day",
            "limit_usd": "3",
            "soft_limit_pct": "80",
        },
    )
    assert response.status_code == 302
    assert Budget.objects.get().period == "day"
    assert AuditEntry.objects.filter(action="budget.create").count() == 1


@pytest.mark.django_db
def test_the_audit_log_is_read_only(root, business):
    entry = audit.record(actor="x", action="budget.update", business=business)
    assert root.get("/admin/governance/auditentry/add/").status_code == 403
    assert root.post(f"/admin/governance/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    page = root.get(f"/admin/governance/auditentry/{entry.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert AuditEntry.objects.count() == 1


@pytest.mark.django_db
def test_engaging_from_the_admin_needs_the_confirmation(root, business):
    assert root.get("/admin/governance/emergencystop/engage/").status_code == 200
    response = root.post(
        "/admin/governance/emergencystop/engage/", {"business": business.pk, "reason": "loop"}
    )
    assert response.status_code == 200 and not EmergencyStop.objects.exists()
    response = root.post(
        "/admin/governance/emergencystop/engage/",
        {"business": business.pk, "reason": "loop", "confirm": "on"},
    )
    assert response.status_code == 302
    assert emergency_stop_active(business.pk)
    assert AuditEntry.objects.get(action="emergency_stop.engage").actor == "root"


@pytest.mark.django_db
def test_releasing_from_the_admin_restores_service(root, business):
    stop, _ = engage_emergency_stop(business=business, reason="loop", actor="x")
    assert root.get(f"/admin/governance/emergencystop/{stop.pk}/release/").status_code == 200
    response = root.post(f"/admin/governance/emergencystop/{stop.pk}/release/", {"reason": "fixed"})
    assert response.status_code == 302
    stop.refresh_from_db()
    assert (stop.released_by, stop.release_reason) == ("root", "fixed")


@pytest.mark.django_db
def test_an_admin_who_is_not_owner_cannot_release(staff_admin, business):
    stop, _ = engage_emergency_stop(business=business, reason="loop", actor="x")
    staff_admin.post(f"/admin/governance/emergencystop/{stop.pk}/release/", {"reason": "mine"})
    assert emergency_stop_active(business.pk)


@pytest.mark.django_db
def test_only_a_superuser_engages_globally_from_the_admin(staff_admin, root):
    staff_admin.post(
        "/admin/governance/emergencystop/engage/", {"business": "", "reason": "all", "confirm": "on"}
    )
    assert not emergency_stop_active(None)
    root.post("/admin/governance/emergencystop/engage/", {"business": "", "reason": "all", "confirm": "on"})
    assert emergency_stop_active(None)


@pytest.mark.django_db
def test_membership_changes_in_the_admin_are_audited_and_keep_an_owner(root, business, make_member):
    owner = make_member("owner", business, username="solo")
    membership = Membership.objects.get(user=owner)
    root.post(f"/admin/governance/membership/{membership.pk}/change/", {"role": "viewer"})
    membership.refresh_from_db()
    assert membership.role == "owner"
    viewer = make_member("viewer", business, username="vic")
    row = Membership.objects.get(user=viewer)
    assert (
        root.post(f"/admin/governance/membership/{row.pk}/change/", {"role": "operator"}).status_code == 302
    )
    assert Membership.objects.get(user=viewer).role == "operator"
    assert AuditEntry.objects.get(action="membership.set").target_id == "vic"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model", ["business", "membership", "budget", "executionpolicy", "emergencystop", "auditentry"]
)
def test_search_and_filters_answer(root, business, make_budget, model):
    make_budget("5", agent_id=7)
    audit.record(actor="x", action="budget.update", business=business)
    for query in ("q=acme", "q=7", f"business__id__exact={business.pk}"):
        if model == "business" and query.startswith("business"):
            continue
        assert root.get(f"/admin/governance/{model}/?{query}").status_code == 200
