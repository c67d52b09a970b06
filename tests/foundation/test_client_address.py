"""One function tells who the client is (issue 12, item 1): X-Forwarded-For only from trusted proxies."""

import logging

import pytest
from django.test import RequestFactory

from mission_control.client_address import client_address
from mission_control.logging import ContextFilter


def address(remote: str, forwarded: str | None = None) -> str:
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **extra))


def test_it_ignores_forwarded_for_with_no_proxy_configured(settings):
    settings.MC_TRUSTED_PROXIES = []
    assert address("203.0.113.9", "198.51.100.1") == "203.0.113.9"


def test_it_reads_forwarded_for_from_the_right_past_trusted_proxies(settings):
    settings.MC_TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.1"]
    assert address("192.0.2.1", "198.51.100.1, 203.0.113.5, 10.1.2.3") == "203.0.113.5"


def test_it_ignores_forwarded_for_from_an_untrusted_peer(settings):
    settings.MC_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert address("203.0.113.9", "198.51.100.1") == "203.0.113.9"


def test_it_stops_at_garbage_in_the_header(settings):
    settings.MC_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert address("10.0.0.1", "203.0.113.5, <script>, 10.0.0.7") == "10.0.0.7"
    assert address("10.0.0.1", "") == "10.0.0.1"


def test_it_understands_ipv6_and_ports(settings):
    settings.MC_TRUSTED_PROXIES = ["::1"]
    assert address("::1", "[2001:db8::5]:4711") == "2001:db8::5"
    assert address("::ffff:203.0.113.9") == "203.0.113.9"
    assert address("::1", "203.0.113.9:5123") == "203.0.113.9"


@pytest.mark.django_db
def test_every_log_line_of_a_request_carries_the_client(client, caplog, settings):
    settings.MC_TRUSTED_PROXIES = ["127.0.0.1"]
    settings.MC_LOGIN_LOCKOUT_FAILURES = 1  # the wrong password locks, and says so in the log
    caplog.handler.addFilter(ContextFilter())
    with caplog.at_level(logging.WARNING):
        client.post(
            "/api/v1/auth/token",
            {"username": "nobody", "password": "x"},
            content_type="application/json",
            HTTP_X_FORWARDED_FOR="203.0.113.44",
        )
    locked = [record for record in caplog.records if "sign-in locked" in record.getMessage()]
    assert "from 203.0.113.44" in locked[0].getMessage()
    assert locked[0].client == "203.0.113.44"
