"""django-csp's middleware, with the policy of an ordinary response built once per process.

The policy comes from settings, plus whatever a response or request adds: a view's
``csp_update``/``csp_replace``/``csp_override`` (attributes on the response) and a nonce (made when
a template reads ``request.csp_nonce``). A response with neither gets the same header every time,
yet django-csp rebuilt it (a dataclass walk and the directives joined) on every response: ~12 % of
a heartbeat's CPU. Here that header is built once (again when the settings change, as in tests);
anything else goes through django-csp as before.
"""

import functools
import http.client as http_client

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# Set by csp.decorators on a response that brings its own policy parts.
_RESPONSE_PARTS = tuple(
    f"_csp_{part}{suffix}" for part in ("config", "update", "replace") for suffix in ("", "_ro")
)


@functools.cache
def _constant_headers() -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    """``(header, response exemption attribute, value, excluded path prefixes)`` for the policy and
    the report-only policy, as django-csp builds them for a response without parts of its own."""
    headers = []
    for header, exempt, setting, report_only in (
        (HEADER, "_csp_exempt", "CONTENT_SECURITY_POLICY", False),
        (HEADER_REPORT_ONLY, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY", True),
    ):
        value = build_policy(report_only=report_only)
        prefixes = tuple((getattr(settings, setting) or {}).get("EXCLUDE_URL_PREFIXES") or ())
        if value:
            headers.append((header, exempt, value, prefixes))
    return tuple(headers)


@receiver(setting_changed)
def _forget_headers(setting, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _constant_headers.cache_clear()


class CachedPolicyCSPMiddleware(CSPMiddleware):
    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _RESPONSE_PARTS
        ):
            return super().process_response(request, response)
        exempted_debug = response.status_code in (http_client.INTERNAL_SERVER_ERROR, http_client.NOT_FOUND)
        if exempted_debug and settings.DEBUG:
            return response
        for header, exempt, value, prefixes in _constant_headers():
            exempted = getattr(response, exempt, False) or request.path_info.startswith(prefixes)
            if header not in response and not exempted:
                response[header] = value
        # As django-csp: a nonce asked for after the header is written is an error, not a silent gap.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
