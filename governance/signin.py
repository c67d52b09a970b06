"""Password guessing: limits on every sign-in path (``POST /api/v1/auth/token``, ``/login/``,
``/admin/login/``), enforced in one place, the authentication backend, so a new path cannot miss it.

Three limits, counted in the cache like the API's rate limits (and failing open with them while the
cache is down):

- **per client address**: ``MC_RATE_LOGIN`` attempts (default ``30/min``), whatever the username;
- **per username and address**: after ``MC_LOGIN_LOCKOUT_FAILURES`` wrong passwords (default 5) that
  pair is locked for ``MC_LOGIN_LOCKOUT_S`` (default 60 s), doubling with each further lockout up to
  ``MC_LOGIN_LOCKOUT_MAX_S`` (default 15 min); a successful sign-in resets it. Keyed with the address
  (as django-axes' ``username + ip_address`` lockout), so a guesser elsewhere cannot lock the real
  user out;
- **per username, from anywhere**: ``MC_RATE_LOGIN_USERNAME`` failures (default ``50/hour``) close the
  account to addresses that have not signed in as it before (in the last 30 days) until the window
  ends: a guesser spreading over many addresses is stopped, and the real user at a known address
  still signs in.

The addresses come from ``mission_control.client_address`` (``MC_TRUSTED_PROXIES``).
"""

import hashlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.backends import ModelBackend, UserModel
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from governance.throttling import default_rate, hit, parse_rate, window_count, window_wait
from mission_control.client_address import client_address
from mission_control.redis_outage import CACHE

logger = logging.getLogger(__name__)

KNOWN_ADDRESS_S = 30 * 86400
FAILURES_KEPT_S = 15 * 60
LOCKOUT_LEVEL_KEPT_S = 86400


class SignInRefused(PermissionDenied):
    """Too many attempts: refused without checking the password. ``retry_after`` in seconds."""

    def __init__(self, retry_after: float, reason: str):
        self.retry_after = max(1, int(retry_after + 0.999))
        self.reason = reason
        super().__init__(f"{reason} Try again in {self.retry_after} s.")


@dataclass(frozen=True)
class Limits:
    per_address: tuple[int, int] | None
    lockout_failures: int
    lockout_s: int
    lockout_max_s: int
    per_username: tuple[int, int] | None


def limits() -> Limits:
    return Limits(
        per_address=parse_rate(default_rate("login")),
        lockout_failures=settings.MC_LOGIN_LOCKOUT_FAILURES,
        lockout_s=settings.MC_LOGIN_LOCKOUT_S,
        lockout_max_s=settings.MC_LOGIN_LOCKOUT_MAX_S,
        per_username=parse_rate(settings.MC_RATE_LOGIN_USERNAME),
    )


def _who(username: str) -> str:
    # Any text may be typed as a username: hash it into a short, safe cache key.
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def _pair(username: str, address: str) -> str:
    return f"{_who(username)}:{address}"


def check(*, username: str, address: str) -> None:
    """Count this attempt and refuse it (``SignInRefused``) when a limit is reached."""
    rules = limits()
    if rules.per_address is not None:
        wait = hit(f"login:ip:{address}", *rules.per_address)
        if wait is not None:
            raise SignInRefused(wait, "Too many sign-in attempts from your address.")
    locked_until = CACHE.or_default(
        "sign-in lockouts", lambda: cache.get(f"signin:lock:{_pair(username, address)}"), None
    )
    now = timezone.now().timestamp()
    if locked_until is not None and locked_until > now:
        raise SignInRefused(
            locked_until - now, "Too many wrong passwords for this account from your address."
        )
    if rules.per_username is not None and _username_closed(username, address, rules.per_username):
        raise SignInRefused(
            window_wait(rules.per_username[1]),
            "Too many wrong passwords for this account; it signs in only from addresses it used before.",
        )


def _username_closed(username: str, address: str, rate: tuple[int, int]) -> bool:
    limit, period = rate
    window = int(timezone.now().timestamp() // period)
    failures = CACHE.or_default(
        "sign-in lockouts", lambda: cache.get(f"throttle:login:user:{_who(username)}:{period}:{window}", 0), 0
    )
    if failures < limit:
        return False
    return not CACHE.or_default(
        "sign-in lockouts", lambda: cache.get(f"signin:known:{_pair(username, address)}"), False
    )


def record_failure(*, username: str, address: str) -> None:
    """A wrong password: count it, and lock the pair when it has failed too often."""
    rules = limits()
    if rules.per_username is not None:
        window_count(f"login:user:{_who(username)}", rules.per_username[1])
    pair = _pair(username, address)

    def count_and_lock() -> None:
        key = f"signin:fail:{pair}"
        cache.add(key, 0, timeout=FAILURES_KEPT_S)
        if cache.incr(key) < rules.lockout_failures:
            return
        cache.delete(key)
        level_key = f"signin:level:{pair}"
        cache.add(level_key, 0, timeout=LOCKOUT_LEVEL_KEPT_S)
        level = cache.incr(level_key) - 1
        seconds = min(rules.lockout_max_s, rules.lockout_s * 2**level)
        cache.set(f"signin:lock:{pair}", timezone.now().timestamp() + seconds, timeout=seconds)
        logger.warning("sign-in locked for %s s: username %r from %s", seconds, username[:150], address)

    CACHE.or_default("sign-in lockouts", count_and_lock, None)


def record_success(*, username: str, address: str) -> None:
    """A right password: reset the pair's failures and remember the address as known."""
    pair = _pair(username, address)
    CACHE.or_default(
        "sign-in lockouts",
        lambda: (
            cache.delete_many([f"signin:fail:{pair}", f"signin:level:{pair}"]),
            cache.set(f"signin:known:{pair}", True, timeout=KNOWN_ADDRESS_S),
        ),
        None,
    )


class RateLimitedModelBackend(ModelBackend):
    """Django's username/password backend behind the limits above.

    A refusal is kept on the request (``mc_signin_refused``) so that the caller can say why (a 429
    on the API, a message on the pages); Django's ``authenticate()`` stops at the ``PermissionDenied``
    and reports a failed sign-in.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(UserModel.USERNAME_FIELD)
        if request is None or username is None or password is None:
            # No client to attribute the attempt to (a management command, the test client's login).
            return super().authenticate(request, username=username, password=password, **kwargs)
        address = client_address(request)
        try:
            check(username=username, address=address)
        except SignInRefused as refused:
            _keep(request, refused)
            logger.warning(
                "sign-in refused: username %r from %s: %s", username[:150], address, refused.reason
            )
            raise
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            record_failure(username=username, address=address)
        else:
            record_success(username=username, address=address)
        return user


def _keep(request, refused: SignInRefused) -> None:
    getattr(request, "_request", request).mc_signin_refused = refused


def refusal(request) -> SignInRefused | None:
    """The limit that refused this request's sign-in, if one did."""
    return getattr(getattr(request, "_request", request), "mc_signin_refused", None)
