import pytest

from observability.models import Alert, AlertRule

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "page", ["alertrule", "alert", "notification", "anomaly", "hourlyrollup", "dailyrollup", "sourcerollup"]
)
def test_it_shows_the_admin_pages(admin_client, business, agent, make_execution, page):
    from tests.observability.conftest import at

    make_execution(started_at=at(10), finished_at=at(10, 1))
    rule = AlertRule.objects.create(business=business, name="r", kind="cost_burn")
    Alert.objects.create(rule=rule, business=business, subject="business", message="spending")

    assert admin_client.get(f"/admin/observability/{page}/").status_code == 200


def test_it_shows_an_alert_with_its_notifications(admin_client, business):
    rule = AlertRule.objects.create(business=business, name="r", kind="cost_burn")
    alert = Alert.objects.create(rule=rule, business=business, subject="business", message="spending")
    alert.notifications.create(event="alert.fired", channel="email", target="ops@example.com", text="t")

    body = admin_client.get(f"/admin/observability/alert/{alert.pk}/change/").content.decode()

    assert "ops@example.com" in body


def rule_form(business, **overrides):
    form = {"business": business.pk, "name": "burn", "kind": "cost_burn", "agent": "", "cron_job_id": ""}
    form |= {"threshold": "5", "window_minutes": "60", "min_executions": "1", "email_to": "ops@example.com"}
    form |= {"webhook_url": "", "enabled": "on"}
    return {**form, **overrides}


def test_it_adds_changes_and_deletes_a_rule_through_the_services_audited(admin_client, business):
    from governance.models import AuditEntry

    assert admin_client.post("/admin/observability/alertrule/add/", rule_form(business)).status_code == 302
    rule = AlertRule.objects.get()
    assert rule.created_by == "admin"  # create_rule sets who made it
    response = admin_client.post(
        f"/admin/observability/alertrule/{rule.pk}/change/", rule_form(business, threshold="7")
    )
    assert response.status_code == 302
    admin_client.post(f"/admin/observability/alertrule/{rule.pk}/delete/", {"post": "yes"})
    assert not AlertRule.objects.exists()
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["alert_rule.create", "alert_rule.update", "alert_rule.delete"]
    assert AuditEntry.objects.get(action="alert_rule.update").after["threshold"].startswith("7")
