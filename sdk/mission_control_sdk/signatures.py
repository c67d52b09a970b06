"""Push signatures: what a push agent checks before it trusts a POSTed execution.

Mission Control signs every push delivery with the agent's signing secret (``GET
/api/v1/agents/{id}/signing-secret``): ``X-MC-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.
Verify the bytes as received, before parsing them::

    if not verify_signature(secret, request.body, request.headers.get(SIGNATURE_HEADER)):
        return 401
"""

import hashlib
import hmac

SIGNATURE_HEADER = "X-MC-Signature"


def signature(secret: str, body: bytes) -> str:
    """The ``X-MC-Signature`` value of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of exactly ``body`` (compared in constant time)."""
    return hmac.compare_digest(signature(secret, body), header or "")
