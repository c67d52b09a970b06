from datetime import timedelta

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from agents.models import Agent, AgentKey
from governance.auth import bearer_token
from mission_control.logging import bind
from mission_control.secrets import hash_secret
from mission_control.ws_security import Principal, agent_group

KEY_PREFIX = "mca_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


class AgentActor:
    """``request.user`` for a request made with an agent key."""

    is_agent = True
    is_authenticated = True
    is_anonymous = False
    is_superuser = False
    is_staff = False
    is_active = True

    def __init__(self, agent: Agent, key: AgentKey):
        self.agent = agent
        self.key = key
        self.agent_id = agent.pk
        self.business_id = agent.business_id
        self.pk = None

    def get_username(self) -> str:
        return f"agent:{self.agent_id}"

    def __str__(self) -> str:
        return self.get_username()


class AgentKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer mca_...``. A wrong or revoked key is one and the same 401."""

    def authenticate(self, request):
        raw = bearer_token(request)
        if raw is None or not raw.startswith(KEY_PREFIX):
            return None
        key = (
            AgentKey.objects.active()
            .select_related("agent", "agent__business")
            .filter(key_hash=hash_secret(raw))
            .first()
        )
        if key is None:
            raise AuthenticationFailed("Invalid or revoked credentials.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            AgentKey.objects.filter(pk=key.pk).update(last_used_at=now)
        bind(business=key.agent.business_id, agent=key.agent_id)
        return AgentActor(key.agent, key), key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


def ws_principal(raw: str) -> Principal | None:
    """The agent behind an agent key on a WebSocket (``?token=mca_...``), or None. The socket joins
    the agent's access group, so revoking the key closes it."""
    if not raw.startswith(KEY_PREFIX):
        return None
    key = (
        AgentKey.objects.active()
        .select_related("agent", "agent__business")
        .filter(key_hash=hash_secret(raw))
        .first()
    )
    return Principal(user=AgentActor(key.agent, key), groups=[agent_group(key.agent_id)]) if key else None
