"""``/api/v1/policies/``: execution restrictions per business or agent (admins manage, members read)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from governance import policies
from governance.access import get_business, require_role, visible_businesses
from governance.models import ExecutionPolicy
from governance.permissions import PeopleOnly
from governance.roles import Role
from governance.selectors import agent_business_id
from governance.throttling import parse_rate
from mission_control.api.serializers import StrictSerializer
from mission_control.params import param

TRIGGERS = ["manual", "cron", "autonomous", "webhook", "workflow"]


class PolicyFieldsSerializer(StrictSerializer):
    allowed_triggers = serializers.ListField(
        child=serializers.ChoiceField(choices=TRIGGERS), required=False, max_length=len(TRIGGERS)
    )
    allowed_models = serializers.ListField(
        child=serializers.CharField(max_length=120), required=False, max_length=200
    )
    allowed_providers = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, max_length=50
    )
    max_tokens_per_execution = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    max_cost_per_execution_usd = serializers.DecimalField(
        required=False, allow_null=True, max_digits=14, decimal_places=6, min_value=0
    )
    min_run_role = serializers.ChoiceField(choices=Role.choices, required=False, allow_blank=True)
    rate_limit = serializers.CharField(required=False, allow_blank=True, max_length=20)

    def validate_rate_limit(self, value: str) -> str:
        if value and parse_rate(value) is None:
            raise ValidationError("Use <number>/<sec|min|hour|day>, e.g. 600/min.")
        return value


class PolicyCreateSerializer(PolicyFieldsSerializer):
    business = serializers.SlugField()
    agent = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class PolicySerializer(serializers.ModelSerializer):
    business = serializers.CharField(source="business.slug")
    agent = serializers.IntegerField(source="agent_id", allow_null=True)

    class Meta:
        model = ExecutionPolicy
        fields = ["id", "business", "agent", *policies.FIELDS, "created_at", "updated_at"]


class PolicyListView(GenericAPIView):
    permission_classes = [PeopleOnly]
    serializer_class = PolicySerializer
    queryset = ExecutionPolicy.objects.none()  # for the schema; reads are scoped to the caller below

    @extend_schema(
        operation_id="policies_list",
        responses=PolicySerializer(many=True),
        parameters=[OpenApiParameter("business", str), OpenApiParameter("agent", int)],
    )
    def get(self, request):
        params = request.query_params
        rows = ExecutionPolicy.objects.filter(business__in=visible_businesses(request.user)).select_related(
            "business"
        )
        if params.get("business"):
            rows = rows.filter(business=get_business(request.user, params["business"]))
        agent = param(params, "agent")
        if agent is not None:
            rows = rows.filter(agent_id=agent)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(PolicySerializer(page, many=True).data)

    @extend_schema(request=PolicyCreateSerializer, responses={201: PolicySerializer})
    def post(self, request):
        data = PolicyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        business = get_business(request.user, fields.pop("business"), Role.ADMIN)
        agent_id = fields.pop("agent", None)
        if agent_id is not None and agent_business_id(agent_id) != business.pk:
            raise ValidationError({"agent": ["No such agent in this business."]})
        policy = policies.create_policy(business=business, agent_id=agent_id, actor=request.user, **fields)
        return Response(PolicySerializer(policy).data, status=status.HTTP_201_CREATED)


class PolicyDetailView(GenericAPIView):
    permission_classes = [PeopleOnly]
    serializer_class = PolicySerializer

    def _policy(self, request, pk: int, role: str) -> ExecutionPolicy:
        policy = ExecutionPolicy.objects.select_related("business").filter(pk=pk).first()
        if policy is None:
            raise NotFound()
        require_role(request.user, policy.business_id, role)
        return policy

    def get(self, request, pk: int):
        return Response(PolicySerializer(self._policy(request, pk, Role.VIEWER)).data)

    @extend_schema(request=PolicyFieldsSerializer, responses=PolicySerializer)
    def patch(self, request, pk: int):
        policy = self._policy(request, pk, Role.ADMIN)
        data = PolicyFieldsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = policies.update_policy(policy=policy, actor=request.user, **data.validated_data)
        return Response(PolicySerializer(policy).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        policies.delete_policy(policy=self._policy(request, pk, Role.ADMIN), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
