"""Per-agent run settings, for admins: the webhook URL, the push signing secret, deadlines and
the retry policy new executions of the agent get."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.selectors import get_agent
from executions import services
from executions.api.serializers import RunSettingsSerializer
from executions.dispatch import signing_secret
from executions.models import AgentRunSettings
from governance.permissions import PeopleOnly
from governance.roles import Role

HookIssued = inline_serializer(
    "HookIssued", {"url": serializers.CharField(), "token": serializers.CharField()}
)


class AgentWebhookView(APIView):
    """``POST`` makes or rotates the agent's secret webhook URL (shown once); ``DELETE`` disables it."""

    permission_classes = [PeopleOnly]

    @extend_schema(responses=inline_serializer("HookState", {"enabled": serializers.BooleanField()}))
    def get(self, request, pk: int):
        agent = get_agent(user=request.user, pk=pk, role=Role.ADMIN)
        row = AgentRunSettings.objects.filter(agent=agent).first()
        enabled = bool(row and row.hook_token_hash)
        return Response(
            {
                "enabled": enabled,
                "prefix": row.hook_token_prefix if enabled else None,
                "rotated_at": row.hook_rotated_at if enabled else None,
            }
        )

    @extend_schema(request=None, responses={201: HookIssued})
    def post(self, request, pk: int):
        agent = get_agent(user=request.user, pk=pk, role=Role.ADMIN)
        token = services.rotate_hook(agent=agent, actor=request.user)
        url = request.build_absolute_uri(reverse("execution-hook", kwargs={"token": token}))
        return Response({"url": url, "token": token}, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        agent = get_agent(user=request.user, pk=pk, role=Role.ADMIN)
        services.disable_hook(agent=agent, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AgentSigningSecretView(APIView):
    """The secret push deliveries are signed with (``X-MC-Signature: sha256=<HMAC of the body>``)."""

    permission_classes = [PeopleOnly]
    Secret = inline_serializer("SigningSecret", {"secret": serializers.CharField()})

    @extend_schema(responses=Secret)
    def get(self, request, pk: int):
        agent = get_agent(user=request.user, pk=pk, role=Role.ADMIN)
        return Response({"secret": signing_secret(agent)})

    @extend_schema(request=None, responses={201: Secret})
    def post(self, request, pk: int):
        agent = get_agent(user=request.user, pk=pk, role=Role.ADMIN)
        secret = services.rotate_signing_secret(agent=agent, actor=request.user)
        return Response({"secret": secret}, status=status.HTTP_201_CREATED)


class AgentRunSettingsView(APIView):
    """Defaults for the agent's new executions: ``timeout_s``, ``heartbeat_timeout_s``, ``retry_policy``."""

    permission_classes = [PeopleOnly]

    @extend_schema(responses=RunSettingsSerializer)
    def get(self, request, pk: int):
        agent = get_agent(user=request.user, pk=pk, role=Role.VIEWER)
        row = AgentRunSettings.objects.filter(agent=agent).first()
        return Response(_settings_body(row))

    @extend_schema(request=RunSettingsSerializer, responses=RunSettingsSerializer)
    def patch(self, request, pk: int):
        agent = get_agent(user=request.user, pk=pk, role=Role.ADMIN)
        data = RunSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.configure_runs(agent=agent, actor=request.user, **data.validated_data)
        return Response(_settings_body(row))


def _settings_body(row: AgentRunSettings | None) -> dict:
    return {
        "timeout_s": getattr(row, "timeout_s", None),
        "heartbeat_timeout_s": getattr(row, "heartbeat_timeout_s", None),
        "retry_policy": getattr(row, "retry_policy", None),
    }
