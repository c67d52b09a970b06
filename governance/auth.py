from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from governance.models import OperatorToken
from mission_control.secrets import hash_secret
from mission_control.ws_security import Principal, user_group

TOKEN_PREFIX = "mct_"
# Recording last use on every request would turn each read into a write; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def bearer_token(request) -> str | None:
    header = get_authorization_header(request).split()
    if len(header) != 2 or header[0].lower() != b"bearer":
        return None
    try:
        return header[1].decode()
    except UnicodeDecodeError:
        return None


class OperatorTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer mct_...``: an operator's API token."""

    def authenticate(self, request):
        raw = bearer_token(request)
        if raw is None or not raw.startswith(TOKEN_PREFIX):
            return None
        token = (
            OperatorToken.objects.active()
            .select_related("user")
            .filter(key_hash=hash_secret(raw), user__is_active=True)
            .first()
        )
        if token is None:
            raise AuthenticationFailed("Invalid or revoked credentials.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            OperatorToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


def ws_principal(raw: str) -> Principal | None:
    """The user behind an operator token on a WebSocket (``?token=``), or None. The socket joins the
    user's access group: revoking the token, a membership change or deactivation re-checks it."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        OperatorToken.objects.active()
        .select_related("user")
        .filter(key_hash=hash_secret(raw), user__is_active=True)
        .first()
    )
    return Principal(user=token.user, groups=[user_group(token.user_id)]) if token else None
