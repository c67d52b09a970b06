"""Work started on one agent, under the agent's path as the contract puts it: ``POST
/api/v1/agents/{id}/run``. The ledger is this app's, so the view lives here (beside the agent's run
settings), and the agents app, below in the import table, knows nothing of executions."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.selectors import get_agent
from executions.api.serializers import ExecutionSerializer
from executions.services import start_execution
from governance.permissions import PeopleOnly
from governance.roles import Role
from mission_control.api.serializers import StrictSerializer


class RunSerializer(StrictSerializer):
    input = serializers.DictField(required=False, default=dict)


class AgentRunView(APIView):
    """Manual run (operator): ``202`` with the new ``pending`` execution (``trigger: manual``)."""

    permission_classes = [PeopleOnly]

    @extend_schema(
        request=RunSerializer,
        responses={
            202: OpenApiResponse(OpenApiTypes.OBJECT, description="The execution, as in /executions/{id}.")
        },
    )
    def post(self, request, pk: int):
        agent = get_agent(user=request.user, pk=pk, role=Role.OPERATOR)
        data = RunSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        execution = start_execution(
            agent=agent, trigger="manual", input=data.validated_data["input"], actor=request.user
        )
        return Response(ExecutionSerializer(execution).data, status=status.HTTP_202_ACCEPTED)
