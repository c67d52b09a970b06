"""``POST /executions/route`` (operator): work for a capability, the cheapest agent picked; and a
business's routing settings, ``GET|PUT /businesses/{slug}/routing`` (viewer reads, admin writes)."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from executions.api.serializers import ExecutionSerializer
from executions.routing import explore_share, route_execution, set_explore_share
from governance.access import get_business
from governance.permissions import PeopleOnly
from governance.roles import Role
from mission_control.api.serializers import StrictSerializer


class RouteSerializer(StrictSerializer):
    business = serializers.SlugField(max_length=60)
    capability = serializers.CharField(max_length=64)
    input = serializers.DictField(required=False, default=dict)
    max_wait_s = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=86_400 * 7)
    model = serializers.CharField(required=False, allow_blank=True, default="", max_length=120)


class RoutingSettingsSerializer(StrictSerializer):
    explore_share = serializers.DecimalField(
        max_digits=4, decimal_places=3, min_value=Decimal(0), max_value=Decimal("0.5")
    )


class RouteView(APIView):
    """Queue work for the agent of the business with ``capability`` that has the lowest expected cost
    per successful execution (``202`` the pending execution, its ``routing`` saying why), or ``409
    no_eligible_agent`` with each candidate's reason."""

    permission_classes = [PeopleOnly]

    @extend_schema(request=RouteSerializer, responses={202: ExecutionSerializer})
    def post(self, request):
        data = RouteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        business = get_business(request.user, fields["business"], Role.OPERATOR)
        execution = route_execution(
            business=business,
            capability=fields["capability"],
            trigger="manual",
            input=fields["input"],
            actor=request.user,
            max_wait_s=fields.get("max_wait_s"),
            model=fields["model"],
        )
        return Response(ExecutionSerializer(execution).data, status=status.HTTP_202_ACCEPTED)


class RoutingSettingsView(APIView):
    permission_classes = [PeopleOnly]

    @extend_schema(responses=RoutingSettingsSerializer)
    def get(self, request, slug: str):
        business = get_business(request.user, slug, Role.VIEWER)
        return Response({"explore_share": f"{explore_share(business):.3f}"})

    @extend_schema(request=RoutingSettingsSerializer, responses=RoutingSettingsSerializer)
    def put(self, request, slug: str):
        business = get_business(request.user, slug, Role.ADMIN)
        data = RoutingSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = set_explore_share(
            business=business, explore_share=data.validated_data["explore_share"], actor=request.user
        )
        return Response({"explore_share": f"{row.explore_share:.3f}"})
