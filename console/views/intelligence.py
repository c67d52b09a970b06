"""What the intelligence app shows on the pages: at-risk agents and the model's standing (control
panel, bottlenecks) and the advice page. Every figure comes from ``intelligence.selectors`` or the
stored rows, the same as ``/api/v1/predictions``, ``/prediction-models`` and ``/suggestions``."""

from console.views.base import console_page, page
from governance.roles import Role
from intelligence import selectors
from intelligence.models import Suggestion, SuggestionKind, SuggestionState
from mission_control.params import id_or_none

RISK_LIMIT = 10
PREDICTION_LIMIT = 25


def risk_context(scope) -> dict:
    """The control panel's "At risk" panel: agents flagged now, and whether a model is in use."""
    return {
        "at_risk": selectors.at_risk_agents(business_ids=scope.ids, limit=RISK_LIMIT),
        "models": selectors.model_status(business_ids=scope.ids),
    }


def prediction_context(scope) -> dict:
    """The bottlenecks page's prediction section: every scored subject, most likely to fail first."""
    return {
        "predictions": list(selectors.predictions(business_ids=scope.ids)[:PREDICTION_LIMIT]),
        "models": selectors.model_status(business_ids=scope.ids),
    }


@console_page
def advice(request):
    scope = request.mc_scope
    state = request.GET.get("state", SuggestionState.OPEN)
    if state not in SuggestionState.values:
        state = SuggestionState.OPEN
    kind = request.GET.get("kind", "")
    rows = Suggestion.objects.filter(business_id__in=scope.ids, state=state).select_related("business")
    if kind in SuggestionKind.values:
        rows = rows.filter(kind=kind)
    highlight = id_or_none(request.GET.get("id"))
    context = {
        "suggestions": [
            {"s": s, "can_decide": scope.can(s.business_id, Role.ADMIN), "highlight": s.pk == highlight}
            for s in rows.order_by("-id")[:200]
        ],
        "state": state,
        "states": SuggestionState.choices,
        "kind": kind,
        "kinds": SuggestionKind.choices,
    }
    return page(request, "console/intelligence/advice.html", context, active="advice")
