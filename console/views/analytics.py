"""``/global/analytics``, ``/global/workload``, ``/global/bottlenecks``, ``/global/costs``.

Every figure comes from the observability app's selectors (``observability.dashboards``,
``.workload``, ``.projections``): the functions behind ``/api/v1/dashboard/*``, reading the hourly
rollups. The pages only choose the window, shape the numbers for charts and render.
"""

from datetime import datetime, timedelta

from console.views.base import console_page, page
from console.views.intelligence import prediction_context
from mission_control.errors import DomainError
from observability import dashboards, projections, workload

WINDOWS = [("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days")]


def obs_scope(request) -> dashboards.Scope:
    current = request.mc_scope.current
    return dashboards.resolve_scope(request.user, current.slug if current else None)


def chosen_window(request, default: str = "24h") -> tuple[str, timedelta]:
    text = request.GET.get("window", default)
    try:
        return text, dashboards.parse_window(text, default=default)
    except DomainError:
        return default, dashboards.parse_window(default, default=default)


def bucket_for(window: timedelta) -> str:
    return "hour" if window <= timedelta(days=2) else "day"


def chart(
    series: dict, *, value: str, kind: str = "line", unit: str = "count", stacked: bool = False
) -> dict:
    """A cost series (``dashboards.cost_series``) as Chart.js data: one dataset per series."""
    hourly = series["bucket"] == "hour"
    labels = []
    for point in series["series"][0]["points"] if series["series"] else []:
        # The series renders times as ISO text (as the API does); older versions gave datetimes.
        ts = point["ts"] if isinstance(point["ts"], datetime) else datetime.fromisoformat(point["ts"])
        labels.append(ts.strftime("%H:%M" if hourly else "%a %d %b"))
    return {
        "type": kind,
        "unit": unit,
        "stacked": stacked,
        "labels": labels,
        "datasets": [
            {
                "label": s["label"],
                "data": [float(p[value]) if unit == "usd" else p[value] for p in s["points"]],
            }
            for s in series["series"]
        ],
    }


def _summary_context(request) -> dict:
    scope = obs_scope(request)
    window_text, window = chosen_window(request)
    summary = dashboards.summary(scope, window=window)
    series = dashboards.cost_series(scope, window=window, bucket=bucket_for(window), group_by=None)
    return {
        "obs": scope,
        "summary": summary,
        "window": window_text,
        "windows": WINDOWS,
        "activity_chart": chart(series, value="executions", kind="bar"),
        "cost_chart": chart(series, value="cost_usd", unit="usd"),
    }


@console_page
def analytics(request):
    context = _summary_context(request)
    agents = dashboards.agent_table(context["obs"], window=chosen_window(request)[1])
    context["agents"] = agents["results"]
    return page(request, "console/analytics/analytics.html", context, active="analytics")


@console_page
def workload_page(request):
    scope = obs_scope(request)
    window_text, window = chosen_window(request)
    report = workload.report(scope, window=window, stuck_after=timedelta(hours=1))
    table = {row["agent"]: row for row in dashboards.agent_table(scope, window=window)["results"]}
    queue = [
        {**row, "utilization_pct": table.get(row["agent"], {}).get("utilization_pct")}
        for row in report["queue"]
    ]
    context = {
        "report": report,
        "queue": queue,
        "window": window_text,
        "windows": WINDOWS,
        "utilization_chart": {
            "type": "bar",
            "unit": "pct",
            "labels": [row["name"] for row in queue],
            "datasets": [{"label": "Utilisation %", "data": [row["utilization_pct"] or 0 for row in queue]}],
        },
    }
    return page(request, "console/analytics/workload.html", context, active="workload")


STUCK_CHOICES = [("15m", "15 minutes"), ("1h", "1 hour"), ("6h", "6 hours"), ("1d", "1 day")]


@console_page
def bottlenecks(request):
    scope = obs_scope(request)
    window_text, window = chosen_window(request)
    stuck_text = request.GET.get("stuck_after", "1h")
    try:
        stuck_after = dashboards.parse_window(
            stuck_text, default="1h", maximum=timedelta(days=30), minutes=True
        )
    except DomainError:
        stuck_text, stuck_after = "1h", timedelta(hours=1)
    report = workload.report(scope, window=window, stuck_after=stuck_after)
    names = {row["agent"]: row["name"] for row in report["queue"]}
    context = {
        "report": report,
        "agent_names": names,
        "window": window_text,
        "windows": WINDOWS,
        "stuck_after": stuck_text,
        "stuck_choices": STUCK_CHOICES,
        **prediction_context(request.mc_scope),
    }
    return page(request, "console/analytics/bottlenecks.html", context, active="bottlenecks")


@console_page
def costs(request):
    scope = obs_scope(request)
    window_text = request.GET.get("window", "7d")
    try:
        window = dashboards.parse_window(window_text, default="7d")
    except DomainError:
        window_text, window = "7d", timedelta(days=7)
    bucket = bucket_for(window)
    by_agent = dashboards.cost_series(scope, window=window, bucket=bucket, group_by="agent")
    by_model = dashboards.cost_series(scope, window=window, bucket=bucket, group_by="model")
    context = {
        "window": window_text,
        "windows": WINDOWS,
        "summary": dashboards.summary(scope, window=window),
        "by_agent": by_agent,
        "by_model": by_model,
        "agent_chart": chart(by_agent, value="cost_usd", kind="bar", unit="usd", stacked=True),
        "model_chart": chart(by_model, value="cost_usd", kind="bar", unit="usd", stacked=True),
        "projection": projections.month_end(scope),
    }
    return page(request, "console/analytics/costs.html", context, active="costs")
