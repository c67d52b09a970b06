"""The agent side: what an agent calls with its key (``Authorization: Bearer mca_...``)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from agents import heartbeats, services
from agents.api.heartbeat_input import validated_heartbeat
from agents.api.serializers import CommandSerializer, HeartbeatAnswerSerializer, HeartbeatSerializer
from agents.heartbeat_gate import HeartbeatKeyAuthentication, HeartbeatThrottle
from governance.auth import OperatorTokenAuthentication
from governance.permissions import AgentsOnly
from governance.throttling import OperatorThrottle
from mission_control.api.authentication import CsrfSessionAuthentication


class HeartbeatView(APIView):
    """Report status, version, location, capabilities and running executions; get back the desired
    state, pending commands (until acknowledged) and the governance flags."""

    # The defaults, with the agent key and its rate limit read in one Redis round trip.
    authentication_classes = [
        HeartbeatKeyAuthentication,
        OperatorTokenAuthentication,
        CsrfSessionAuthentication,
    ]
    throttle_classes = [HeartbeatThrottle, OperatorThrottle]
    permission_classes = [AgentsOnly]

    @extend_schema(request=HeartbeatSerializer, responses=HeartbeatAnswerSerializer)
    def post(self, request):
        data = validated_heartbeat(request.data)
        actor = request.user
        answer = heartbeats.record_heartbeat(
            agent_id=actor.agent_id,
            business_id=actor.business_id,
            versions=getattr(actor, "heartbeat_versions", None),
            **data,
        )
        return Response(answer)


class CommandAckView(APIView):
    """Acknowledge a command: it is no longer delivered. Idempotent; another agent's command is a 404."""

    permission_classes = [AgentsOnly]

    @extend_schema(request=None, responses=CommandSerializer)
    def post(self, request, pk: int):
        command = services.acknowledge_command(agent=request.user.agent, command_id=pk)
        return Response(CommandSerializer(command).data)
