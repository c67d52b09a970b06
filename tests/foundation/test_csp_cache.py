"""The cached-policy CSP middleware sets exactly the headers django-csp's own would."""

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.decorators import csp_exempt, csp_update
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware
from django.http import HttpResponse, JsonResponse
from django.test import RequestFactory

from mission_control.csp import CachedPolicyCSPMiddleware


def plain(request):
    return JsonResponse({"ok": True})


def with_nonce(request):
    return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")


@csp_update({"style-src": ["'unsafe-inline'"]})
def updated(request):
    return HttpResponse("<p>")


@csp_exempt()
def exempt(request):
    return HttpResponse("<p>")


def headers(middleware_class, view, path="/api/v1/agent/heartbeat"):
    request = RequestFactory().post(path)
    response = middleware_class(view)(request)
    return {name: response.get(name) for name in (HEADER, HEADER_REPORT_ONLY)}, request


@pytest.mark.parametrize("view", [plain, with_nonce, updated, exempt])
def test_it_sets_what_django_csp_sets(view):
    ours, _ = headers(CachedPolicyCSPMiddleware, view)
    theirs, _ = headers(CSPMiddleware, view)
    if view is with_nonce:  # a nonce per request: the same policy around a different nonce
        assert ours[HEADER].split("'nonce-")[0] == theirs[HEADER].split("'nonce-")[0]
        assert "'nonce-" in ours[HEADER]
    else:
        assert ours == theirs
    assert (ours[HEADER] is None) == (view is exempt)


def test_it_follows_changed_settings(settings):
    before, _ = headers(CachedPolicyCSPMiddleware, plain)
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {
        "DIRECTIVES": {"default-src": ["'self'"]},
        "EXCLUDE_URL_PREFIXES": ["/static/"],
    }
    after, _ = headers(CachedPolicyCSPMiddleware, plain)
    assert after == headers(CSPMiddleware, plain)[0] != before
    assert after[HEADER] == "default-src 'none'"
    assert headers(CachedPolicyCSPMiddleware, plain, "/static/x.css")[0][HEADER_REPORT_ONLY] is None


def test_a_nonce_asked_for_after_the_header_is_an_error():
    _, request = headers(CachedPolicyCSPMiddleware, plain)
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)
