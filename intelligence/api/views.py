"""Predictions and model versions (viewer reads), scoped to the caller's businesses."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView

from governance.access import get_business, visible_businesses
from governance.permissions import PeopleOnly
from intelligence import selectors
from intelligence.api.serializers import PredictionModelSerializer, PredictionSerializer
from intelligence.models import SubjectKind
from mission_control.api.pagination import IdCursorPagination
from mission_control.params import parse_choice, parse_flag


class ByProbability(IdCursorPagination):
    """Most likely to fail first; the cursor keeps its place by probability (ties by id)."""

    ordering = ("-probability", "id")


BUSINESS = OpenApiParameter("business", str, description="business slug")


def business_ids(request) -> list[int]:
    slug = request.query_params.get("business")
    if slug:
        return [get_business(request.user, slug).pk]
    return list(visible_businesses(request.user).values_list("pk", flat=True))


@extend_schema(
    parameters=[
        BUSINESS,
        OpenApiParameter("kind", str, enum=SubjectKind.values),
        OpenApiParameter("at_risk", bool),
    ]
)
class PredictionListView(ListAPIView):
    """Per agent, cron job and workflow step: the probability that its next execution fails, from the
    business's model in use (none when no model beats the baseline), with the reasons in words."""

    permission_classes = [PeopleOnly]
    serializer_class = PredictionSerializer
    pagination_class = ByProbability

    def get_queryset(self):
        params = self.request.query_params
        kind = parse_choice(params.get("kind"), name="kind", choices=SubjectKind.values)
        return selectors.predictions(
            business_ids=business_ids(self.request),
            kind=kind,
            at_risk=parse_flag(params.get("at_risk"), name="at_risk"),
        )


@extend_schema(parameters=[BUSINESS])
class PredictionModelListView(ListAPIView):
    """Every trained version, newest first per business: its metrics on the later part of the
    history beside the naive baseline's (the recent failure rate), and whether it is in use."""

    permission_classes = [PeopleOnly]
    serializer_class = PredictionModelSerializer

    def get_queryset(self):
        return selectors.model_versions(business_ids=business_ids(self.request))
