from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView

from mission_control.events import event_scope
from mission_control.models import Event
from mission_control.params import param
from mission_control.stream import stream_position


class EventSerializer(serializers.ModelSerializer):
    business = serializers.CharField(source="business_slug", allow_null=True)
    agent = serializers.IntegerField(source="agent_id", allow_null=True)
    execution = serializers.IntegerField(source="execution_id", allow_null=True)

    class Meta:
        model = Event
        fields = ["id", "ts", "kind", "business", "agent", "execution", "actor", "message", "data"]


@extend_schema(
    description=(
        "The append-only activity history: newest first, or oldest first with `after` (catching up: "
        "follow `next`). With `after`, only events below the stream's horizon are listed (no event "
        "with a lower id can still commit), so moving `after` to the last id you got never skips one. "
        "An agent key sees its own events and the emergency stops that concern it.\n\n"
        "The same events arrive live over the WebSocket `/ws/events/?after=<id>&business=<slug>&kinds=a,b` "
        "(session, or `token=`): in id order, each once; reconnect with `after=<last id processed>` to "
        'resume; send `{"type": "ack", "id": <last id>}` for flow control, answered if you stall by '
        '`{"type": "resync", "after": <id>}` and close 4429; closes 4401 (not authenticated or '
        "revoked), 4403 (foreign Origin), 4404 (no such business, or no longer a member). See the README's "
        '"Live events".'
    ),
    parameters=[
        OpenApiParameter("business", str, description="business slug"),
        OpenApiParameter("kind", str, description="one kind, or several separated by commas"),
        OpenApiParameter("agent", int),
        OpenApiParameter("execution", int),
        OpenApiParameter(
            "after", int, description="only events with a greater id, oldest first (catching up)"
        ),
    ],
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
        qs = Event.objects.filter(scope.q())
        if params.get("kind"):
            qs = qs.filter(kind__in=params["kind"].split(","))
        for name in ("agent", "execution"):
            value = param(params, name)
            if value is not None:
                qs = qs.filter(**{f"{name}_id": value})
        after = param(params, "after")
        if after is not None:
            # Only final ids (mission_control/stream.py): a client that moves its after= to the last id
            # it got never skips an event that commits late with a lower id.
            qs = qs.filter(id__gt=after, id__lte=stream_position())
            self.paginator.ordering = "id"
        return qs
