"""``/global/executions`` (the explorer) and ``/global/executions/<id>`` (one execution, whole).

Reads go through the ledger's own selectors and search (``executions.selectors``,
``executions.search``): the same scoping, effective cost and filters as ``GET /api/v1/executions``.
Replay and abort buttons post to the executions API.
"""

from django.db.models import Q
from django.http import QueryDict

from agents.models import Agent
from console.views.base import console_page, page
from executions.logs import search_logs
from executions.models import ACTIVE, Execution, LogKind, LogLevel, Status, Trigger
from executions.search import filter_executions
from executions.selectors import (
    get_visible_execution,
    scoped_executions,
    visible_executions,
    with_effective_cost,
)
from governance.roles import Role
from mission_control.params import InvalidParameter, id_or_none

PAGE_SIZE = 50
LOG_LIMIT = 500
FILTERS = ("q", "status", "trigger", "agent", "model", "since", "until", "cron_job", "workflow_run")
REPLAYABLE = (Status.FAILED, Status.ABORTED)


def search_params(request) -> QueryDict:
    """The explorer's query string as the ledger's filters understand it, narrowed by the switcher."""
    params = QueryDict(mutable=True)
    for name in FILTERS:
        value = request.GET.get(name, "").strip()
        if value:
            params[name] = value
    if request.mc_scope.current:
        params["business"] = request.mc_scope.current.slug
    return params


def searched(request):
    """Matching executions (``effective_cost_usd`` annotated), or the filter errors to show."""
    qs = with_effective_cost(scoped_executions(request.user))
    try:
        return filter_executions(qs, search_params(request)), {}
    except InvalidParameter as exc:
        return qs.none(), {exc.name: [exc.message]}


def older_than(qs, before: int):
    """Rows after execution ``before`` in the list's order (created_at, then id, both descending)."""
    anchor = Execution.objects.filter(pk=before).values_list("created_at", flat=True).first()
    if anchor is None:
        return qs.filter(pk__lt=before)
    return qs.filter(Q(created_at__lt=anchor) | Q(created_at=anchor, pk__lt=before))


@console_page
def execution_list(request):
    scope = request.mc_scope
    qs, errors = searched(request)
    before = id_or_none(request.GET.get("before"))
    if before is not None:
        qs = older_than(qs, before)
    # Newest first by creation time: work reported after the fact, or history imported in bulk, has
    # ids that do not follow its times. The id breaks ties, and pages by it (keyset, no OFFSET).
    rows = list(qs.select_related("agent", "business").order_by("-created_at", "-id")[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    query = search_params(request)
    query.pop("business", None)
    context = {
        "rows": [
            {
                "execution": e,
                "can_operate": scope.can(e.business_id, Role.OPERATOR),
                "replayable": e.status in REPLAYABLE,
                "abortable": e.status in ACTIVE,
            }
            for e in rows
        ],
        "errors": errors,
        "filters": {name: request.GET.get(name, "") for name in FILTERS},
        "statuses": Status.choices,
        "triggers": Trigger.choices,
        "agents": Agent.objects.for_business_ids(scope.ids).order_by("name").values_list("id", "name"),
        "next_before": rows[-1].pk if more and rows else None,
        "first_page": not before,
        "query": query.urlencode(),
        "export_query": search_params(request).urlencode(),
    }
    return page(
        request,
        "console/executions/list.html",
        context,
        active="executions",
        partial="console/executions/_table.html",
    )


@console_page
def execution_detail(request, execution_id: int):
    scope = request.mc_scope
    execution = get_visible_execution(request.user, execution_id)  # 404 outside the user's businesses
    level, kind, q = (request.GET.get(k, "").strip() for k in ("level", "kind", "q"))
    logs = list(
        search_logs(execution.logs.all(), level=level, kind=kind, q=q).order_by("seq")[: LOG_LIMIT + 1]
    )
    related = with_effective_cost(visible_executions(request.user)).filter(replay_of_id=execution.pk)
    retries = visible_executions(request.user).filter(retry_of_id=execution.pk)
    context = {
        "e": execution,
        "logs": logs[:LOG_LIMIT],
        "logs_truncated": len(logs) > LOG_LIMIT,
        "log_filters": {"level": level, "kind": kind, "q": q},
        "levels": LogLevel.choices,
        "kinds": LogKind.choices,
        "replays": list(related.order_by("id").values("id", "status", "created_at")[:20]),
        "retries": list(retries.order_by("id").values("id", "status", "created_at")[:20]),
        "can_operate": scope.can(execution.business_id, Role.OPERATOR),
        "replayable": execution.status in REPLAYABLE,
        "abortable": execution.status in ACTIVE,
    }
    return page(
        request,
        "console/executions/detail.html",
        context,
        active="executions",
        partial="console/executions/_summary.html",
    )
