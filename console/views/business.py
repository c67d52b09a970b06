"""The per-business pages: ``/<business>/board``, ``/<business>/epics`` and ``/<business>/overview``.

The business comes from the URL (404 when the user is not a member). Reads go through
``board.selectors`` and ``observability.dashboards``; moves, edits and new tasks or epics post to
``/api/v1/tasks`` and ``/api/v1/epics``.
"""

from datetime import timedelta

from django.db.models import Count

from agents.models import Agent
from board import selectors
from board.models import EpicStatus, Priority, Task, TaskStatus
from console.views.analytics import chart
from console.views.base import console_page, page
from governance.roles import Role
from mission_control.models import Event
from mission_control.params import id_or_none
from observability import dashboards

OPEN_LIMIT = 400  # tasks not done shown on the board
DONE_LIMIT = 30  # the most recent done ones
COLUMNS = [s for s, _ in TaskStatus.choices]


def _filters(request) -> dict:
    get = request.GET.get
    return {
        "epic": id_or_none(get("epic")) or "",
        "assignee": id_or_none(get("assignee")) or "",
        "capability": get("capability", "").strip()[:64],
        "q": get("q", "").strip()[:100],
    }


@console_page
def board(request, business: str):
    scope = request.mc_scope
    biz = scope.business(business)
    filters = _filters(request)
    qs = selectors.tasks(
        user=request.user,
        business=biz.slug,
        epic_id=int(filters["epic"]) if filters["epic"] else None,
        assignee_id=int(filters["assignee"]) if filters["assignee"] else None,
    ).select_related("assignee", "epic")
    if filters["q"]:
        qs = qs.filter(title__icontains=filters["q"])
    tasks = list(qs.exclude(status=TaskStatus.DONE).order_by("-priority", "id")[:OPEN_LIMIT])
    tasks += list(qs.filter(status=TaskStatus.DONE).order_by("-completed_at", "-id")[:DONE_LIMIT])
    if filters["capability"]:
        # Capabilities are a JSON list; the board is bounded, so the match is done here.
        tasks = [t for t in tasks if filters["capability"] in (t.required_capabilities or [])]
    columns = {status: [] for status in COLUMNS}
    for task in tasks:
        columns[task.status].append(task)
    context = {
        "business": biz,
        "columns": [{"status": s, "label": label, "tasks": columns[s]} for s, label in TaskStatus.choices],
        "filters": filters,
        "epics": list(
            selectors.epics(user=request.user, business=biz.slug)
            .order_by("-id")
            .values_list("id", "title")[:100]
        ),
        "agents": list(Agent.objects.filter(business=biz).order_by("name").values_list("id", "name")),
        "priorities": [label for _, label in Priority.choices],
        "statuses": TaskStatus.choices,
        "can_edit": scope.can(biz.pk, Role.OPERATOR),
        "open_limit": OPEN_LIMIT,
    }
    return page(
        request,
        "console/business/board.html",
        context,
        active="board",
        partial="console/business/_board.html",
    )


@console_page
def epics(request, business: str):
    scope = request.mc_scope
    biz = scope.business(business)
    rows = list(selectors.epics(user=request.user, business=biz.slug).order_by("status", "-id")[:200])
    for epic in rows:
        epic.progress = round(epic.done_count * 100 / epic.task_count) if epic.task_count else 0
    context = {
        "business": biz,
        "epics": rows,
        "statuses": EpicStatus.choices,
        "can_edit": scope.can(biz.pk, Role.OPERATOR),
    }
    return page(request, "console/business/epics.html", context, active="epics")


@console_page
def overview(request, business: str):
    scope = request.mc_scope
    biz = scope.business(business)
    obs = dashboards.resolve_scope(request.user, biz.slug)
    day = timedelta(hours=24)
    counts = dict(
        Task.objects.filter(business=biz)
        .values("status")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("status", "n")
    )
    series = dashboards.cost_series(obs, window=timedelta(days=7), bucket="day", group_by=None)
    context = {
        "business": biz,
        "summary": dashboards.summary(obs, window=day),
        "agents": dashboards.agent_table(obs, window=day)["results"],
        "task_counts": [(label, counts.get(s, 0), s) for s, label in TaskStatus.choices],
        "task_total": sum(counts.values()),
        "epics": list(
            selectors.epics(user=request.user, business=biz.slug, status=EpicStatus.OPEN).order_by("-id")[:6]
        ),
        "events": list(Event.objects.filter(business_id=biz.pk).order_by("-id")[:12]),
        "cost_chart": chart(series, value="cost_usd", kind="bar", unit="usd"),
        "executions_chart": chart(series, value="executions", kind="bar"),
    }
    return page(request, "console/business/overview.html", context, active="overview")
