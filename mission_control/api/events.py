from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView

from mission_control.events import event_scope
from mission_control.models import Event
from mission_control.params import param


class EventSerializer(serializers.ModelSerializer):
    business = serializers.CharField(source="business_slug", allow_null=True)
    agent = serializers.IntegerField(source="agent_id", allow_null=True)
    execution = serializers.IntegerField(source="execution_id", allow_null=True)

    class Meta:
        model = Event
        fields = ["id", "ts", "kind", "business", "agent", "execution", "actor", "message", "data"]


@extend_schema(
    parameters=[
        OpenApiParameter("business", str, description="business slug"),
        OpenApiParameter("kind", str, description="one kind, or several separated by commas"),
        OpenApiParameter("agent", int),
        OpenApiParameter("execution", int),
        OpenApiParameter(
            "after", int, description="only events with a greater id, oldest first (catching up)"
        ),
    ]
)
class EventListView(ListAPIView):
    """The append-only activity history, newest first (or oldest first with ``after``)."""

    serializer_class = EventSerializer

    def get_queryset(self):
        params = self.request.query_params
        try:
            scope = event_scope(self.request.user, params.get("business") or None)
        except LookupError:
            raise NotFound() from None
        qs = Event.objects.all()
        if scope is not None:
            if params.get("business"):
                qs = qs.filter(business_id__in=scope)
            else:
                qs = qs.filter(Q(business_id__in=scope) | Q(business_id__isnull=True))
        if params.get("kind"):
            qs = qs.filter(kind__in=params["kind"].split(","))
        for name in ("agent", "execution"):
            value = param(params, name)
            if value is not None:
                qs = qs.filter(**{f"{name}_id": value})
        after = param(params, "after")
        if after is not None:
            qs = qs.filter(id__gt=after)
            self.paginator.ordering = "id"
        return qs
