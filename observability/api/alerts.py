"""Alert rules (admin writes, viewer reads), alert history and anomalies, scoped to the caller."""

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.access import get_business, require_role, visible_businesses
from governance.permissions import PeopleOnly
from governance.roles import Role
from mission_control.params import param
from observability import alerts as services
from observability.api.serializers import (
    AlertRuleCreateSerializer,
    AlertRuleSerializer,
    AlertSerializer,
    AnomalySerializer,
)
from observability.models import Alert, AlertRule, Anomaly, Metric

BUSINESS = OpenApiParameter("business", str, description="business slug")


def _scoped(qs, request):
    slug = request.query_params.get("business")
    if slug:
        return qs.filter(business=get_business(request.user, slug))
    if request.user.is_superuser:
        return qs
    return qs.filter(business__in=visible_businesses(request.user))


@extend_schema(
    parameters=[BUSINESS, OpenApiParameter("agent", int), OpenApiParameter("metric", str, enum=Metric.values)]
)
class AnomalyListView(ListAPIView):
    """Hours in which an agent's duration, cost or failure rate left its own baseline, with the reason."""

    permission_classes = [PeopleOnly]
    serializer_class = AnomalySerializer

    def get_queryset(self):
        qs = _scoped(Anomaly.objects.select_related("business", "agent"), self.request)
        agent = param(self.request.query_params, "agent")
        if agent is not None:
            qs = qs.filter(agent_id=agent)
        metric = self.request.query_params.get("metric")
        if metric:
            if metric not in Metric.values:
                raise ValidationError({"metric": [f"Use one of {', '.join(Metric.values)}."]})
            qs = qs.filter(metric=metric)
        return qs


@extend_schema(
    parameters=[
        BUSINESS,
        OpenApiParameter("state", str, enum=["firing", "resolved"]),
        OpenApiParameter("rule", int),
    ]
)
class AlertListView(ListAPIView):
    """Alert incidents, newest first: when each fired and when it recovered."""

    permission_classes = [PeopleOnly]
    serializer_class = AlertSerializer

    def get_queryset(self):
        qs = _scoped(Alert.objects.select_related("business", "rule"), self.request)
        state = self.request.query_params.get("state")
        if state not in (None, "", "firing", "resolved"):
            raise ValidationError({"state": ["Use firing or resolved."]})
        if state:
            qs = qs.filter(resolved_at__isnull=state == "firing")
        rule = param(self.request.query_params, "rule")
        return qs.filter(rule_id=rule) if rule is not None else qs


class AlertRuleListView(ListAPIView):
    """``GET`` the rules you can see; ``POST`` one (admin of its business)."""

    permission_classes = [PeopleOnly]
    serializer_class = AlertRuleSerializer

    @extend_schema(parameters=[BUSINESS])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return _scoped(AlertRule.objects.select_related("business"), self.request)

    @extend_schema(request=AlertRuleCreateSerializer, responses={201: AlertRuleSerializer})
    def post(self, request):
        slug = request.data.get("business") if isinstance(request.data, dict) else None
        if not slug:
            raise ValidationError({"business": ["This field is required."]})
        business = get_business(request.user, str(slug), Role.ADMIN)
        serializer = AlertRuleCreateSerializer(data=request.data, context={"business_id": business.pk})
        serializer.is_valid(raise_exception=True)
        data = {k: v for k, v in serializer.validated_data.items() if k != "business"}
        if AlertRule.objects.filter(business=business, name=data["name"]).exists():
            raise ValidationError({"name": ["A rule with this name exists in this business."]})
        rule = services.create_rule(business=business, actor=request.user, **data)
        return Response(AlertRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class AlertRuleDetailView(APIView):
    """``GET`` (viewer), ``PATCH`` and ``DELETE`` (admin) one rule."""

    permission_classes = [PeopleOnly]

    def rule(self, request, pk: int, role: str) -> AlertRule:
        rule = AlertRule.objects.select_related("business").filter(Q(pk=pk)).first()
        if rule is None:
            raise NotFound()
        require_role(request.user, rule.business_id, role)
        return rule

    @extend_schema(responses=AlertRuleSerializer)
    def get(self, request, pk: int):
        return Response(AlertRuleSerializer(self.rule(request, pk, Role.VIEWER)).data)

    @extend_schema(request=AlertRuleSerializer, responses=AlertRuleSerializer)
    def patch(self, request, pk: int):
        rule = self.rule(request, pk, Role.ADMIN)
        serializer = AlertRuleSerializer(
            rule, data=request.data, partial=True, context={"business_id": rule.business_id}
        )
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data.get("name")
        if (
            name
            and AlertRule.objects.filter(business_id=rule.business_id, name=name).exclude(pk=rule.pk).exists()
        ):
            raise ValidationError({"name": ["A rule with this name exists in this business."]})
        rule = services.update_rule(rule=rule, actor=request.user, **serializer.validated_data)
        return Response(AlertRuleSerializer(rule).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        services.delete_rule(rule=self.rule(request, pk, Role.ADMIN), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
