"""``/agents/{id}/autoscale``: the agent's policy (viewer reads, admin writes) and its decisions."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.selectors import get_agent
from autoscaling import selectors, services
from autoscaling.api.serializers import (
    AutoscaleDecisionSerializer,
    AutoscalePolicySerializer,
    AutoscalePolicyUpdateSerializer,
)
from autoscaling.models import Action
from governance.permissions import PeopleOnly
from governance.roles import Role
from mission_control.params import param, parse_choice


class PolicyView(APIView):
    permission_classes = [PeopleOnly]

    @extend_schema(responses=AutoscalePolicySerializer)
    def get(self, request, pk: int):
        agent = get_agent(user=request.user, pk=pk)
        return Response(AutoscalePolicySerializer(selectors.policy_or_default(agent)).data)

    @extend_schema(request=AutoscalePolicyUpdateSerializer, responses=AutoscalePolicySerializer)
    def put(self, request, pk: int):
        agent = get_agent(user=request.user, pk=pk, role=Role.ADMIN)
        data = AutoscalePolicyUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.save_policy(agent=agent, actor=request.user, **data.validated_data)
        return Response(AutoscalePolicySerializer(policy).data)


class DecisionListView(GenericAPIView):
    """The agent's autoscaling decisions, newest first: one per period while its policy is enabled
    (``?action=scale_up|scale_down|hold|refused`` narrows them)."""

    permission_classes = [PeopleOnly]
    serializer_class = AutoscaleDecisionSerializer

    @extend_schema(
        parameters=[OpenApiParameter("action", str, enum=Action.values, description="only this action")],
        responses=AutoscaleDecisionSerializer(many=True),
    )
    def get(self, request, pk: int):
        agent = get_agent(user=request.user, pk=pk)
        action = param(request.query_params, "action", parse_choice, choices=Action.values)
        page = self.paginate_queryset(selectors.decisions(agent=agent, action=action))
        return self.get_paginated_response(AutoscaleDecisionSerializer(page, many=True).data)
