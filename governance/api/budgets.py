"""``/api/v1/budgets/``: read by every member, managed by admins. Reads carry the live window."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from governance import services
from governance.access import get_business, require_role
from governance.models import Budget, BudgetPeriod
from governance.permissions import PeopleOnly
from governance.roles import Role
from governance.selectors import agent_business_id, budgets_for, live_spend
from mission_control.api.serializers import StrictSerializer
from mission_control.params import param, parse_choice

MONEY = {"max_digits": 18, "decimal_places": 6, "min_value": 0}


class BudgetCreateSerializer(StrictSerializer):
    business = serializers.SlugField()
    agent = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    model = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")
    period = serializers.ChoiceField(choices=BudgetPeriod.choices)
    limit_usd = serializers.DecimalField(**MONEY)
    soft_limit_pct = serializers.IntegerField(required=False, min_value=1, max_value=100, default=80)
    enabled = serializers.BooleanField(required=False, default=True)


class BudgetUpdateSerializer(StrictSerializer):
    """The scope (business, agent, model, period) is the budget's identity: make a new one instead."""

    limit_usd = serializers.DecimalField(required=False, **MONEY)
    soft_limit_pct = serializers.IntegerField(required=False, min_value=1, max_value=100)
    enabled = serializers.BooleanField(required=False)


class BudgetSerializer(serializers.ModelSerializer):
    business = serializers.CharField(source="business.slug")
    agent = serializers.IntegerField(source="agent_id", allow_null=True)
    window_start = serializers.SerializerMethodField()
    window_end = serializers.SerializerMethodField()
    spent_usd = serializers.SerializerMethodField()
    reserved_usd = serializers.SerializerMethodField()
    remaining_usd = serializers.SerializerMethodField()
    used_pct = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    projected_usd = serializers.SerializerMethodField()

    class Meta:
        model = Budget
        fields = [
            "id",
            "business",
            "agent",
            "model",
            "period",
            "limit_usd",
            "soft_limit_pct",
            "enabled",
            "window_start",
            "window_end",
            "spent_usd",
            "reserved_usd",
            "remaining_usd",
            "used_pct",
            "state",
            "projected_usd",
            "created_at",
            "updated_at",
        ]

    def _spend(self, budget):
        spend = self.context.get("spend") or {}
        if budget.pk not in spend:
            spend.update(live_spend([budget]))
            self.context["spend"] = spend
        return spend[budget.pk]

    def get_window_start(self, budget) -> str:
        return self._spend(budget).window_start.isoformat()

    def get_window_end(self, budget) -> str | None:
        end = self._spend(budget).window_end
        return end.isoformat() if end else None

    def get_spent_usd(self, budget) -> str:
        return f"{self._spend(budget).spent_usd:.6f}"

    def get_reserved_usd(self, budget) -> str:
        return f"{self._spend(budget).reserved_usd:.6f}"

    def get_remaining_usd(self, budget) -> str:
        return f"{self._spend(budget).remaining_usd:.6f}"

    def get_used_pct(self, budget) -> float:
        return self._spend(budget).used_pct

    def get_state(self, budget) -> str:
        return self._spend(budget).state

    def get_projected_usd(self, budget) -> str | None:
        projected = self._spend(budget).projected_usd
        return f"{projected:.6f}" if projected is not None else None


def _check_agent(agent_id: int | None, business) -> None:
    if agent_id is not None and agent_business_id(agent_id) != business.pk:
        raise ValidationError({"agent": ["No such agent in this business."]})


def _page(view, queryset):
    page = view.paginate_queryset(queryset)
    data = BudgetSerializer(page, many=True, context={"spend": live_spend(page)}).data
    return view.get_paginated_response(data)


class BudgetListView(GenericAPIView):
    permission_classes = [PeopleOnly]
    serializer_class = BudgetSerializer
    queryset = Budget.objects.none()  # for the schema; reads are scoped to the caller below

    @extend_schema(
        operation_id="budgets_list",
        responses=BudgetSerializer(many=True),
        parameters=[
            OpenApiParameter("business", str, description="business slug"),
            OpenApiParameter("agent", int),
            OpenApiParameter("period", str, enum=BudgetPeriod.values),
        ],
    )
    def get(self, request):
        params = request.query_params
        budgets = budgets_for(request.user)
        if params.get("business"):
            budgets = budgets.filter(business=get_business(request.user, params["business"]))
        agent = param(params, "agent")
        if agent is not None:
            budgets = budgets.filter(agent_id=agent)
        period = param(params, "period", parse_choice, choices=BudgetPeriod.values)
        if period:
            budgets = budgets.filter(period=period)
        return _page(self, budgets)

    @extend_schema(request=BudgetCreateSerializer, responses={201: BudgetSerializer})
    def post(self, request):
        data = BudgetCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        business = get_business(request.user, fields.pop("business"), Role.ADMIN)
        agent_id = fields.pop("agent", None)
        _check_agent(agent_id, business)
        budget = services.create_budget(business=business, agent_id=agent_id, actor=request.user, **fields)
        return Response(BudgetSerializer(budget).data, status=status.HTTP_201_CREATED)


class BudgetDetailView(GenericAPIView):
    permission_classes = [PeopleOnly]
    serializer_class = BudgetSerializer

    def _budget(self, request, pk: int, role: str) -> Budget:
        budget = Budget.objects.select_related("business").filter(pk=pk).first()
        if budget is None:
            raise NotFound()
        require_role(request.user, budget.business_id, role)
        return budget

    def get(self, request, pk: int):
        return Response(BudgetSerializer(self._budget(request, pk, Role.VIEWER)).data)

    @extend_schema(request=BudgetUpdateSerializer, responses=BudgetSerializer)
    def patch(self, request, pk: int):
        budget = self._budget(request, pk, Role.ADMIN)
        data = BudgetUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        budget = services.update_budget(budget=budget, actor=request.user, **data.validated_data)
        return Response(BudgetSerializer(budget).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.delete_budget(budget=self._budget(request, pk, Role.ADMIN), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
