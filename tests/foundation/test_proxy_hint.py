"""Behind an undeclared TLS proxy the redirect loops: the log says which setting is missing, once."""

import logging

import pytest
from django.test import RequestFactory, override_settings

from mission_control import proxy_hint

PRODUCTION = {"DEBUG": False, "SECURE_SSL_REDIRECT": True, "SECURE_PROXY_SSL_HEADER": None}


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(proxy_hint, "_given", False)


def proxied():
    return RequestFactory().get("/control", HTTP_X_FORWARDED_PROTO="https")


@override_settings(**PRODUCTION)
def test_it_names_the_missing_setting_once(caplog):
    with caplog.at_level(logging.WARNING, logger="mission_control.security"):
        proxy_hint.hint_undeclared_tls_proxy(proxied())
        proxy_hint.hint_undeclared_tls_proxy(proxied())
    messages = [r.getMessage() for r in caplog.records if r.name == "mission_control.security"]
    assert len(messages) == 1
    assert "MC_TLS_PROXY_HEADER=X-Forwarded-Proto" in messages[0]


@pytest.mark.parametrize(
    "overrides",
    [
        {"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")},  # declared
        {"SECURE_SSL_REDIRECT": False},  # no redirect, no loop
        {"DEBUG": True},
    ],
)
def test_it_stays_quiet_when_nothing_loops(caplog, overrides):
    with override_settings(**{**PRODUCTION, **overrides}), caplog.at_level(logging.WARNING):
        proxy_hint.hint_undeclared_tls_proxy(proxied())
        proxy_hint.hint_undeclared_tls_proxy(RequestFactory().get("/control"))
    assert not [r for r in caplog.records if r.name == "mission_control.security"]


@override_settings(**PRODUCTION)
def test_it_stays_quiet_without_the_header(caplog):
    with caplog.at_level(logging.WARNING):
        proxy_hint.hint_undeclared_tls_proxy(RequestFactory().get("/control"))
    assert not [r for r in caplog.records if r.name == "mission_control.security"]
