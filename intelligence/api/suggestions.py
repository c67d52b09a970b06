"""Suggestions: viewers read them, admins apply or dismiss them (through the services)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.access import require_role
from governance.permissions import PeopleOnly
from governance.roles import Role
from intelligence import suggestions as services
from intelligence.api.serializers import SuggestionSerializer
from intelligence.api.views import BUSINESS, business_ids
from intelligence.models import Suggestion, SuggestionKind, SuggestionState
from mission_control.params import parse_choice


@extend_schema(
    parameters=[
        BUSINESS,
        OpenApiParameter("kind", str, enum=SuggestionKind.values),
        OpenApiParameter("state", str, enum=SuggestionState.values),
    ]
)
class SuggestionListView(ListAPIView):
    """Advice from the history of runs, steps, executions and cron firings, newest first, each with its
    evidence (figures), expected gain and state."""

    permission_classes = [PeopleOnly]
    serializer_class = SuggestionSerializer

    def get_queryset(self):
        params = self.request.query_params
        qs = Suggestion.objects.filter(business_id__in=business_ids(self.request)).select_related("business")
        kind = parse_choice(params.get("kind"), name="kind", choices=SuggestionKind.values)
        state = parse_choice(params.get("state"), name="state", choices=SuggestionState.values)
        if kind:
            qs = qs.filter(kind=kind)
        return qs.filter(state=state) if state else qs


class _Decide(APIView):
    permission_classes = [PeopleOnly]
    action = ""

    def post(self, request, pk: int):
        suggestion = Suggestion.objects.filter(pk=pk).first()
        if suggestion is None:
            raise NotFound()
        require_role(request.user, suggestion.business_id, Role.ADMIN)
        done = getattr(services, self.action)(suggestion=suggestion, actor=request.user)
        return Response(SuggestionSerializer(done).data)


@extend_schema(request=None, responses={200: SuggestionSerializer})
class SuggestionApplyView(_Decide):
    """Apply the change (a new workflow version, a cron edit), audited (admin)."""

    action = "apply"


@extend_schema(request=None, responses={200: SuggestionSerializer})
class SuggestionDismissView(_Decide):
    """Dismiss it; it does not come back for the same state of its subject (admin)."""

    action = "dismiss"
