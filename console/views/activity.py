"""``/global/activity``: the live event stream. The newest events are rendered on the server with the
same scoping as ``GET /api/v1/events``; new ones arrive over the WebSocket (``static/mc/activity.js``)."""

from django.db.models import Q

from agents.models import Agent
from console.views.base import console_page, page
from mission_control.models import Event
from mission_control.params import id_or_none

PAGE_SIZE = 100
# The kinds the spec names, grouped by prefix; any other kind still shows (and filters by prefix).
KIND_GROUPS = [
    ("agent.", "Agents"),
    ("execution.", "Executions"),
    ("cron.", "Cron"),
    ("workflow.", "Workflows"),
    ("budget.", "Budgets"),
    ("emergency_stop.", "Emergency stop"),
    ("task.", "Tasks"),
    ("alert.", "Alerts"),
]


def _filters(request, scope) -> dict:
    kind = request.GET.get("kind", "").strip()
    agent = request.GET.get("agent", "")
    business = request.GET.get("business", "")
    return {
        "kind": kind[:64],
        "agent": id_or_none(agent),
        "business": scope.business(business) if business else None,  # 404 for a stranger's slug
    }


def events_for(scope, filters: dict, *, limit: int = PAGE_SIZE) -> list[Event]:
    qs = Event.objects.all()
    if filters["business"] is not None:
        qs = qs.filter(business_id=filters["business"].pk)
    elif not scope.sees_everything:
        qs = qs.filter(Q(business_id__in=scope.ids) | Q(business_id__isnull=True))
    if filters["kind"]:
        kind = filters["kind"]
        qs = qs.filter(kind__startswith=kind) if kind.endswith(".") else qs.filter(kind=kind)
    if filters["agent"] is not None:
        qs = qs.filter(agent_id=filters["agent"])
    # Newest first by when it happened: history written after the fact (an import, the demo) has
    # older times than its ids suggest. Ties (one transaction) keep the order they were written.
    return list(qs.order_by("-ts", "-id")[:limit])


@console_page
def activity(request):
    scope = request.mc_scope
    filters = _filters(request, scope)
    agents = dict(Agent.objects.for_business_ids([b.pk for b in scope.businesses]).values_list("id", "name"))
    context = {
        "events": events_for(scope, filters),
        "filters": filters,
        "kind_groups": KIND_GROUPS,
        "kind_prefixes": [prefix for prefix, _ in KIND_GROUPS],
        "agent_by_id": agents,
        "agent_names": {str(k): v for k, v in agents.items()},
        "agent_choices": sorted(agents.items(), key=lambda kv: kv[1].lower()),
        "page_size": PAGE_SIZE,
    }
    return page(request, "console/activity.html", context, active="activity")
