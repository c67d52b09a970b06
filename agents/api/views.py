"""The agent registry for people: list, create, read, edit, lifecycle, keys (a manual run,
``/agents/{id}/run``, starts an execution: executions/api/agent_runs.py).

Roles: a viewer reads, an operator starts, stops, restarts, scales and runs, an admin registers
and edits agents and manages their keys. Agent keys get 403 here (their side is ``agent_side``).
"""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from agents import selectors, services
from agents.api.serializers import (
    EFFECTIVE_STATUSES,
    AgentCreateSerializer,
    AgentSerializer,
    AgentUpdateSerializer,
    CommandSerializer,
    KeyCreateSerializer,
    KeyIssuedSerializer,
    KeySerializer,
    LifecycleSerializer,
    ScaleSerializer,
)
from governance.access import get_business, visible_businesses
from governance.permissions import PeopleOnly
from governance.roles import Role
from mission_control.params import param, parse_flag


def _agent_body(agent, now=None) -> dict:
    return AgentSerializer(agent, context={"now": now or timezone.now()}).data


@extend_schema(
    parameters=[
        OpenApiParameter("business", str, description="business slug"),
        OpenApiParameter("status", str, enum=EFFECTIVE_STATUSES, description="effective status"),
        OpenApiParameter("capability", str, description="agents that have this capability"),
    ]
)
class AgentListView(ListAPIView):
    """The agents of the caller's businesses (viewer); register one (admin)."""

    permission_classes = [PeopleOnly]
    serializer_class = AgentSerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": self.now}

    def get_queryset(self):
        params = self.request.query_params
        status_filter = params.get("status") or None
        if status_filter and status_filter not in EFFECTIVE_STATUSES:
            raise ValidationError({"status": [f"One of: {', '.join(EFFECTIVE_STATUSES)}."]})
        business = params.get("business") or None
        if business and not visible_businesses(self.request.user).filter(slug=business).exists():
            raise NotFound()  # as for any object of a business the caller cannot see
        self.now = timezone.now()
        return selectors.agent_list(
            user=self.request.user,
            business=business,
            status=status_filter,
            capability=params.get("capability") or None,
            now=self.now,
        )

    @extend_schema(request=AgentCreateSerializer, responses={201: AgentSerializer})
    def post(self, request):
        data = AgentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        business = get_business(request.user, fields.pop("business"), Role.ADMIN)
        agent = services.create_agent(business=business, actor=request.user, **fields)
        return Response(_agent_body(agent), status=status.HTTP_201_CREATED)


class AgentDetailView(APIView):
    permission_classes = [PeopleOnly]

    @extend_schema(responses=AgentSerializer)
    def get(self, request, pk: int):
        return Response(_agent_body(selectors.get_agent(user=request.user, pk=pk)))

    @extend_schema(request=AgentUpdateSerializer, responses=AgentSerializer)
    def patch(self, request, pk: int):
        agent = selectors.get_agent(user=request.user, pk=pk, role=Role.ADMIN)
        data = AgentUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.update_agent(agent=agent, actor=request.user, **data.validated_data)
        return Response(_agent_body(selectors.get_agent(user=request.user, pk=pk)))


class _LifecycleView(APIView):
    """POST -> 202 ``{"agent", "command"}``: the command waits in the agent's heartbeat answers."""

    permission_classes = [PeopleOnly]
    action = ""
    request_serializer = None

    def post(self, request, pk: int):
        agent = selectors.get_agent(user=request.user, pk=pk, role=Role.OPERATOR)
        extra = {}
        if self.request_serializer is not None:
            data = self.request_serializer(data=request.data)
            data.is_valid(raise_exception=True)
            extra = data.validated_data
        command = getattr(services, f"{self.action}_agent")(agent=agent, actor=request.user, **extra)
        body = {"agent": _agent_body(agent), "command": CommandSerializer(command).data}
        return Response(body, status=status.HTTP_202_ACCEPTED)


@extend_schema(request=None, responses={202: LifecycleSerializer})
class AgentStartView(_LifecycleView):
    action = "start"


@extend_schema(request=None, responses={202: LifecycleSerializer})
class AgentStopView(_LifecycleView):
    action = "stop"


@extend_schema(request=None, responses={202: LifecycleSerializer})
class AgentRestartView(_LifecycleView):
    action = "restart"


@extend_schema(request=ScaleSerializer, responses={202: LifecycleSerializer})
class AgentScaleView(_LifecycleView):
    action = "scale"
    request_serializer = ScaleSerializer


class AgentCommandListView(GenericAPIView):
    """The agent's commands, newest first (``?pending=1``: not yet acknowledged)."""

    permission_classes = [PeopleOnly]
    serializer_class = CommandSerializer

    @extend_schema(
        parameters=[OpenApiParameter("pending", bool, description="only unacknowledged commands")],
        responses=CommandSerializer(many=True),
    )
    def get(self, request, pk: int):
        agent = selectors.get_agent(user=request.user, pk=pk)
        pending = bool(param(request.query_params, "pending", parse_flag))
        page = self.paginate_queryset(selectors.command_list(agent=agent, pending=pending))
        return self.get_paginated_response(CommandSerializer(page, many=True).data)


class AgentKeyListView(GenericAPIView):
    permission_classes = [PeopleOnly]
    serializer_class = KeySerializer

    @extend_schema(responses=KeySerializer(many=True))
    def get(self, request, pk: int):
        agent = selectors.get_agent(user=request.user, pk=pk)
        page = self.paginate_queryset(selectors.key_list(agent=agent))
        return self.get_paginated_response(KeySerializer(page, many=True).data)

    @extend_schema(request=KeyCreateSerializer, responses={201: KeyIssuedSerializer})
    def post(self, request, pk: int):
        agent = selectors.get_agent(user=request.user, pk=pk, role=Role.ADMIN)
        data = KeyCreateSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        key, raw = services.issue_key(agent=agent, name=data.validated_data["name"], actor=request.user)
        body = KeyIssuedSerializer(key, context={"raw": raw}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class AgentKeyDetailView(APIView):
    permission_classes = [PeopleOnly]

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int, key_id: int):
        agent = selectors.get_agent(user=request.user, pk=pk, role=Role.ADMIN)
        services.revoke_key(key=selectors.get_key(agent=agent, key_id=key_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
