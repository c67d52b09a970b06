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
