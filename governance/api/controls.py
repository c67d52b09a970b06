"""The emergency stop and the audit log.

Who may do what (the contract names the owner for release; engaging is a safety button):
- engage for one business: operator and above; engage globally: superusers only;
- release for one business: owner; release globally: superusers only;
- status: any member; the audit log: admins and above.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.access import get_business, visible_businesses
from governance.controls import active_stop
from governance.models import AuditEntry, EmergencyStop
from governance.permissions import PeopleOnly
from governance.roles import Role
from governance.selectors import audit_for, businesses_with_role
from governance.stops import engage_emergency_stop, release_emergency_stop
from mission_control.api.serializers import StrictSerializer


class EngageSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=2000)
    business = serializers.SlugField(required=False, allow_null=True)


class ReleaseSerializer(StrictSerializer):
    business = serializers.SlugField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class StopSerializer(serializers.ModelSerializer):
    scope = serializers.SerializerMethodField()
    business = serializers.CharField(source="business.slug", allow_null=True, default=None)
    engaged = serializers.BooleanField(source="is_active")

    class Meta:
        model = EmergencyStop
        fields = [
            "id",
            "scope",
            "business",
            "engaged",
            "reason",
            "engaged_by",
            "engaged_at",
            "released_by",
            "released_at",
            "release_reason",
        ]

    def get_scope(self, stop) -> str:
        return "global" if stop.business_id is None else "business"


StatusSerializer = inline_serializer(
    "EmergencyStopStatus",
    {
        "engaged": serializers.BooleanField(),
        "stop": StopSerializer(allow_null=True),
        "active": StopSerializer(many=True),
    },
)


def _scope(request, slug: str | None, business_role: str):
    """The business named by ``slug`` (checked for ``business_role``), or None for the global scope,
    which only superusers may act on."""
    if slug:
        return get_business(request.user, slug, business_role)
    if not request.user.is_superuser:
        raise PermissionDenied("Only a superuser may act on the global emergency stop; name a business.")
    return None


class EmergencyStopView(APIView):
    permission_classes = [PeopleOnly]

    @extend_schema(
        parameters=[OpenApiParameter("business", str, description="business slug")],
        responses=StatusSerializer,
    )
    def get(self, request):
        """Is work stopped? With ``business``: the stop covering it; without: every active stop the
        caller can see (the global one included)."""
        slug = request.query_params.get("business")
        if slug:
            business = get_business(request.user, slug)
            stop = active_stop(business.pk)
            active = [stop] if stop else []
        else:
            ids = visible_businesses(request.user).values_list("pk", flat=True)
            active = list(
                EmergencyStop.objects.active().filter(business__isnull=True).select_related("business")
            ) + list(EmergencyStop.objects.active().filter(business_id__in=ids).select_related("business"))
            stop = active[0] if active else None
        return Response(
            {
                "engaged": stop is not None,
                "stop": StopSerializer(stop).data if stop else None,
                "active": StopSerializer(active, many=True).data,
            }
        )

    @extend_schema(request=EngageSerializer, responses=StopSerializer)
    def post(self, request):
        """Engage the emergency stop for one business (operator) or everything (superuser)."""
        data = EngageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        business = _scope(request, data.validated_data.get("business"), Role.OPERATOR)
        stop, engaged_now = engage_emergency_stop(
            business=business, reason=data.validated_data["reason"], actor=request.user
        )
        return Response({**StopSerializer(stop).data, "already_engaged": not engaged_now})


class EmergencyStopReleaseView(APIView):
    permission_classes = [PeopleOnly]

    @extend_schema(request=ReleaseSerializer, responses=StopSerializer)
    def post(self, request):
        """Release the stop of one business (owner) or the global one (superuser)."""
        data = ReleaseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        business = _scope(request, data.validated_data.get("business"), Role.OWNER)
        stop = release_emergency_stop(
            business=business, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(StopSerializer(stop).data)


class AuditEntrySerializer(serializers.ModelSerializer):
    business = serializers.CharField(source="business.slug", allow_null=True, default=None)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "ts",
            "actor",
            "action",
            "business",
            "target_type",
            "target_id",
            "before",
            "after",
            "reason",
            "client_address",
        ]


@extend_schema(
    parameters=[
        OpenApiParameter("business", str, description="business slug"),
        OpenApiParameter(
            "action", str, description="e.g. budget.update; a prefix ending in '.' matches a family"
        ),
        OpenApiParameter("actor", str),
    ]
)
class AuditListView(ListAPIView):
    """The audit log, newest first (admins and above; read-only)."""

    permission_classes = [PeopleOnly]
    serializer_class = AuditEntrySerializer
    queryset = AuditEntry.objects.none()  # for the schema; the real one depends on the caller

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        params = self.request.query_params
        business_id = None
        if params.get("business"):
            business_id = get_business(self.request.user, params["business"], Role.ADMIN).pk
        elif businesses_with_role(self.request.user, Role.ADMIN) == []:
            # Members below admin everywhere: refuse rather than answer an empty list.
            raise PermissionDenied("The audit log needs the admin role.")
        entries = audit_for(self.request.user, business_id)
        action = params.get("action", "")
        if action.endswith("."):
            entries = entries.filter(action__startswith=action)
        elif action:
            entries = entries.filter(action=action)
        if params.get("actor"):
            entries = entries.filter(actor=params["actor"])
        return entries
