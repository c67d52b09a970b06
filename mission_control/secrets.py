"""Bearer secrets (operator tokens, agent keys): shown once, stored only as a SHA-256 hash.

The secrets carry 256 bits of randomness, so a fast hash is enough (nothing to brute-force)
and lets a request find its row by an indexed equality lookup.
"""

import hashlib
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class IssuedSecret:
    raw: str  # shown to the user once, never stored
    digest: str
    prefix: str  # the first characters, safe to display so people can tell keys apart


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_secret(kind: str) -> IssuedSecret:
    raw = f"{kind}_{secrets.token_urlsafe(32)}"
    return IssuedSecret(raw=raw, digest=hash_secret(raw), prefix=raw[: len(kind) + 9])
