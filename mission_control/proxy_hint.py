"""Behind a TLS proxy nobody declared, every page redirects to https:// forever. Say why, once.

The proxy's ``X-Forwarded-Proto: https`` is believed only when ``MC_TLS_PROXY_HEADER`` names it
(any client could send it); until then every request looks like plain HTTP to the HTTPS redirect.
"""

import logging

from django.conf import settings

logger = logging.getLogger("mission_control.security")
_given = False


def hint_undeclared_tls_proxy(request) -> None:
    global _given
    if _given or settings.DEBUG or not settings.SECURE_SSL_REDIRECT or settings.SECURE_PROXY_SSL_HEADER:
        return
    if request.META.get("HTTP_X_FORWARDED_PROTO", "").strip().lower() == "https":
        _given = True
        logger.warning(
            "A request came with X-Forwarded-Proto: https, but no TLS proxy is declared, so it is "
            "treated as plain HTTP and redirected to https://. Behind a proxy that terminates TLS, set "
            "MC_TLS_PROXY_HEADER=X-Forwarded-Proto (or browsers loop through redirects)."
        )
