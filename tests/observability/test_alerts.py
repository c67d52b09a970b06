"""Alert rules: one firing per incident, a recovery notice, delivered as events, email and webhook."""

import json
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine

from mission_control.events import publish
from mission_control.models import Event
from observability import notify
from observability.alerts import evaluate
from observability.models import Alert, AlertRule, Notification
from observability.tasks import evaluate_alerts
from tests.conftest import agent_client
from tests.observability.conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook():
    """A local Slack-style receiver on a free port: records the JSON bodies it gets."""
    received, answers = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(answers.pop(0) if answers else 200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.received, server.answers = received, answers
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield server
    server.shutdown()
    server.server_close()


def _rule(business, **fields) -> AlertRule:
    fields.setdefault("name", fields.get("kind", "rule"))
    return AlertRule.objects.create(business=business, **fields)


def _kinds():
    return list(Event.objects.filter(kind__startswith="alert.").order_by("id").values_list("kind", flat=True))


def _evaluate(moment, callbacks):
    with time_machine.travel(moment, tick=False), callbacks(execute=True):
        return evaluate_alerts.delay().get()


def test_it_fires_once_per_incident_and_notices_the_recovery(
    business, agent, make_execution, mailoutbox, django_capture_on_commit_callbacks
):
    rule = _rule(
        business,
        kind="failure_rate",
        threshold=Decimal("0.5"),
        window_minutes=30,
        min_executions=3,
        email_to="ops@example.com, lead@example.com",
    )
    for minute, status in [(0, "failed"), (5, "failed"), (10, "success")]:
        make_execution(status=status, started_at=at(10, minute), finished_at=at(10, minute + 1))

    assert _evaluate(at(10, 15), django_capture_on_commit_callbacks) == {"fired": 1, "resolved": 0}
    assert _evaluate(at(10, 16), django_capture_on_commit_callbacks) == {"fired": 0, "resolved": 0}
    alert = Alert.objects.get(rule=rule)
    assert (alert.subject, alert.value, alert.agent_id) == (f"agent:{agent.pk}", Decimal("0.6667"), agent.pk)
    assert "2 of 3 executions failed" in alert.message

    assert _evaluate(at(10, 45), django_capture_on_commit_callbacks) == {"fired": 0, "resolved": 1}
    alert.refresh_from_db()
    assert alert.resolved_at == at(10, 45)
    assert _kinds() == ["alert.fired", "alert.resolved"]
    assert [(m.to, m.subject[:35]) for m in mailoutbox] == [
        (["ops@example.com"], "[Mission Control] [FIRING] failure_"),
        (["lead@example.com"], "[Mission Control] [FIRING] failure_"),
        (["ops@example.com"], "[Mission Control] [RESOLVED] failur"),
        (["lead@example.com"], "[Mission Control] [RESOLVED] failur"),
    ]
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_it_ignores_too_few_executions(business, agent, make_execution, django_capture_on_commit_callbacks):
    _rule(business, kind="failure_rate", threshold=Decimal("0.1"), window_minutes=30, min_executions=3)
    make_execution(status="failed", started_at=at(10), finished_at=at(10, 1))

    assert _evaluate(at(10, 5), django_capture_on_commit_callbacks)["fired"] == 0


def test_it_fires_again_after_a_recovery(business, agent, make_execution, django_capture_on_commit_callbacks):
    _rule(business, kind="failure_rate", threshold=Decimal("0.5"), window_minutes=10, min_executions=1)
    make_execution(status="failed", started_at=at(10), finished_at=at(10, 1))
    _evaluate(at(10, 2), django_capture_on_commit_callbacks)
    _evaluate(at(10, 20), django_capture_on_commit_callbacks)
    make_execution(status="failed", started_at=at(10, 21), finished_at=at(10, 22))

    _evaluate(at(10, 23), django_capture_on_commit_callbacks)

    assert Alert.objects.count() == 2
    assert _kinds() == ["alert.fired", "alert.resolved", "alert.fired"]


def test_it_posts_slack_style_json_to_a_webhook(
    business, agent, make_execution, webhook, django_capture_on_commit_callbacks
):
    _rule(
        business,
        name="Spend",
        kind="cost_burn",
        threshold=Decimal("10"),
        window_minutes=60,
        webhook_url=webhook.url,
    )
    make_execution(started_at=at(10, 30), finished_at=at(10, 40), cost="12.5")

    _evaluate(at(11), django_capture_on_commit_callbacks)

    (body,) = webhook.received
    assert set(body) == {"text"}
    assert body["text"].startswith("[FIRING] Spend: Acme is spending $12.50 per hour")
    assert Notification.objects.get().status == "sent"


def test_it_retries_a_failing_webhook_and_gives_up_after_the_last_attempt(business, webhook):
    rule = _rule(business, kind="cost_burn", webhook_url=webhook.url)
    alert = Alert.objects.create(rule=rule, business=business, subject="business", message="m")
    notification = Notification.objects.create(
        alert=alert, event="alert.fired", channel="webhook", target=webhook.url, text="x"
    )
    webhook.answers.extend([500] * notify.MAX_ATTEMPTS)

    for _ in range(notify.MAX_ATTEMPTS - 1):
        with pytest.raises(notify.DeliveryFailed):
            notify.deliver(notification.pk)
    assert notify.deliver(notification.pk) == "failed"

    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", notify.MAX_ATTEMPTS)
    assert "500" in notification.last_error
    assert notify.deliver(notification.pk) == "skipped"


def test_it_watches_agents_that_go_offline(business, agent, django_capture_on_commit_callbacks):
    _rule(business, kind="agent_offline", window_minutes=10)
    with time_machine.travel(at(12), tick=False):
        agent_client(agent).post("/api/v1/agent/heartbeat", {"status": "idle"}, format="json")

    assert _evaluate(at(12, 5), django_capture_on_commit_callbacks)["fired"] == 0
    assert _evaluate(at(12, 15), django_capture_on_commit_callbacks)["fired"] == 1
    with time_machine.travel(at(12, 16), tick=False):
        agent_client(agent).post("/api/v1/agent/heartbeat", {"status": "idle"}, format="json")
    assert _evaluate(at(12, 17), django_capture_on_commit_callbacks)["resolved"] == 1


def test_it_reports_missed_cron_runs(business, django_capture_on_commit_callbacks):
    _rule(business, kind="cron_missed", window_minutes=60)
    with time_machine.travel(at(9), tick=False):
        publish(
            kind="cron.missed",
            business=business,
            message="Cron job nightly missed its run",
            data={"cron_job": 4},
        )

    assert _evaluate(at(9, 30), django_capture_on_commit_callbacks)["fired"] == 1
    assert Alert.objects.get().subject == "cron:4"
    assert _evaluate(at(10, 30), django_capture_on_commit_callbacks)["resolved"] == 1


def test_it_reports_a_cron_job_failing_in_a_row(business, agent, django_capture_on_commit_callbacks):
    from workflows.models import CronJob

    job = CronJob.objects.create(
        business=business, name="nightly", schedule="0 3 * * *", agent=agent, consecutive_failures=3
    )
    _rule(business, kind="cron_failing", threshold=Decimal(3))

    _evaluate(at(9), django_capture_on_commit_callbacks)

    assert Alert.objects.get().subject == f"cron:{job.pk}"


def test_it_reports_a_budget_past_its_soft_limit(business, agent, django_capture_on_commit_callbacks):
    from governance.budgets import settle
    from governance.models import Budget

    budget = Budget.objects.create(
        business=business, period="month", limit_usd=Decimal(10), soft_limit_pct=80
    )
    _rule(business, kind="budget_soft_limit")
    with time_machine.travel(at(9), tick=False):
        settle(business=business, agent_id=agent.pk, ref="execution:1", actual=Decimal("8.5"))

    _evaluate(at(9, 1), django_capture_on_commit_callbacks)

    alert = Alert.objects.get()
    assert alert.subject == f"budget:{budget.pk}"
    assert "$8.50 of $10.00 (85.0%" in alert.message
    # A new month is a new window: the incident recovers.
    assert _evaluate(at(9, day=1).replace(month=4), django_capture_on_commit_callbacks)["resolved"] == 1


def test_it_resolves_the_incidents_of_a_disabled_rule(
    business, agent, make_execution, django_capture_on_commit_callbacks
):
    rule = _rule(business, kind="failure_rate", threshold=Decimal(0), window_minutes=60, min_executions=1)
    make_execution(status="failed", started_at=at(10), finished_at=at(10, 1))
    _evaluate(at(10, 2), django_capture_on_commit_callbacks)
    AlertRule.objects.filter(pk=rule.pk).update(enabled=False)

    _evaluate(at(10, 3), django_capture_on_commit_callbacks)

    assert Alert.objects.get().resolved_message == "the rule was disabled"


def test_it_never_opens_two_incidents_for_one_subject(business, agent, make_execution):
    from observability.alert_checks import Breach
    from observability.alerts import apply

    rule = _rule(business, kind="cost_burn")
    breach = {"business": Breach(Decimal(1), "spending")}
    apply(rule=rule, breaches=breach, now=at(10))
    apply(rule=rule, breaches=breach, now=at(10) + timedelta(minutes=1))

    assert Alert.objects.firing().count() == 1


def test_it_keeps_evaluating_when_one_rule_breaks(
    business, agent, make_execution, monkeypatch, django_capture_on_commit_callbacks
):
    from observability import alert_checks

    _rule(business, name="broken", kind="cron_missed")
    _rule(business, name="spend", kind="cost_burn", threshold=Decimal(0))
    make_execution(started_at=at(10), finished_at=at(10, 1), cost="1")
    monkeypatch.setitem(alert_checks.CHECKS, "cron_missed", lambda rule, now: 1 / 0)
    monkeypatch.setattr("observability.alerts.CHECKS", alert_checks.CHECKS)

    assert evaluate(now=at(10, 30))["fired"] == 1
