"""SSRF through alert webhooks (issue 12, item 3): refused when saved and when sent, and a failing
webhook's answer is never stored or shown."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from observability import notify
from observability.models import Alert, AlertRule, Notification

pytestmark = pytest.mark.django_db

RULE = {"business": "acme", "name": "Spend", "kind": "cost_burn", "threshold": "10", "window_minutes": 60}


@pytest.fixture
def no_allow_list(settings):
    settings.MC_OUTBOUND_ALLOW = []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8199/hook", "http://169.254.169.254/", "http://[::1]/"])
def test_it_refuses_a_webhook_on_our_own_network(no_allow_list, api_as, url):
    response = api_as("admin").post("/api/v1/alert-rules", {**RULE, "webhook_url": url}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "url_not_allowed"
    assert "webhook_url" in response.json()["fields"]
    assert not AlertRule.objects.exists()


def test_it_refuses_it_on_update_too(no_allow_list, api_as, business):
    rule = AlertRule.objects.create(business=business, name="r", kind="cost_burn", webhook_url="")
    response = api_as("admin").patch(
        f"/api/v1/alert-rules/{rule.pk}", {"webhook_url": "http://10.0.0.1/"}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"] == "url_not_allowed"
    rule.refresh_from_db()
    assert rule.webhook_url == ""


def _notification(business, target: str) -> Notification:
    rule = AlertRule.objects.create(business=business, name="r", kind="cost_burn", webhook_url=target)
    alert = Alert.objects.create(rule=rule, business=business, subject="business", message="m")
    return Notification.objects.create(
        alert=alert, event="alert.fired", channel="webhook", target=target, text="x"
    )


def test_a_webhook_that_became_internal_is_refused_at_send_time_and_not_retried(no_allow_list, business):
    notification = _notification(business, "http://127.0.0.1:8199/hook")  # saved behind the API's back
    assert notify.deliver(notification.pk) == "failed"
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 1)
    assert "loopback address" in notification.last_error


@pytest.fixture
def chatty_webhook():
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b"internal secret: db password hunter2"
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_a_failing_webhook_answer_is_not_echoed(business, chatty_webhook):
    notification = _notification(business, chatty_webhook)
    with pytest.raises(notify.DeliveryFailed):
        notify.deliver(notification.pk)
    notification.refresh_from_db()
    assert notification.last_error == "DeliveryFailed: webhook answered HTTP 500"
