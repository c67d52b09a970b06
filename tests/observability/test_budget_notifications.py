"""Budget crossings are mailed through the notification task, not on the report's path (issue 14)."""

from decimal import Decimal

import pytest

from governance import budgets
from governance.models import Budget
from observability import alerts, notify
from observability.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def crossing(business, agent, make_member):
    make_member("owner", business, email="boss@example.com")
    make_member("admin", business, email="ops@example.com")
    make_member("viewer", business, email="viewer@example.com")  # not mailed
    Budget.objects.create(business=business, period="month", limit_usd=Decimal("10"), soft_limit_pct=50)

    def cross():
        budgets.settle(business=business, agent_id=agent.pk, ref="a", actual=Decimal("6"))

    return cross


def test_it_queues_one_notification_per_owner_and_admin(
    crossing, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        crossing()
    rows = Notification.objects.order_by("target")
    assert [(n.alert_id, n.event, n.channel, n.target, n.status) for n in rows] == [
        (None, "budget.soft_limit", "email", "boss@example.com", "sent"),
        (None, "budget.soft_limit", "email", "ops@example.com", "sent"),
    ]
    assert sorted(m.to[0] for m in mailoutbox) == ["boss@example.com", "ops@example.com"]
    assert "reached its soft limit" in mailoutbox[0].subject


def test_the_settle_only_queues_the_mail_and_a_failed_delivery_is_retried(
    crossing, mailoutbox, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(alerts, "_enqueue", queued.append)  # the worker's queue, not run here
    with django_capture_on_commit_callbacks(execute=True):
        crossing()
    assert len(queued) == 2 and mailoutbox == []  # nothing sent on the settling caller's path

    def smtp_down(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(notify, "send_mail", smtp_down)
    with pytest.raises(notify.DeliveryFailed):  # the task retries it with backoff
        notify.deliver(queued[0])
    assert Notification.objects.get(pk=queued[0]).status == "pending"
    monkeypatch.undo()
    assert notify.deliver(queued[0]) == "sent"
    assert (Notification.objects.get(pk=queued[0]).attempts, len(mailoutbox)) == (2, 1)
