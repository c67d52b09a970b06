"""``/global/cron`` (the cron manager) and ``/global/calendar`` (scheduled and past runs).

Reads go through ``workflows.selectors`` and ``workflows.schedules`` (the cron API's own); creating,
editing, pausing, resuming and running now post to ``/api/v1/cron-jobs/...``.
"""

from calendar import Calendar
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from agents.models import Agent
from console.views.base import console_page, fragment, page
from governance.roles import Role
from mission_control.params import id_or_none
from workflows import schedules, selectors
from workflows.models import CronRun, Overlap, Workflow

PREVIEW_RUNS = 5
HISTORY_RUNS = 20
COMMON_ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
]


def reading(schedule: str, zone: str, now=None) -> dict:
    """The human reading and next runs of an expression, or the error the API would give."""
    now = now or timezone.now()
    try:
        schedules.validate_expression(schedule)
        tz = schedules.validate_timezone(zone)
    except schedules.ScheduleError as exc:
        return {"error": exc.message, "field": exc.field}
    runs, _ = schedules.between(schedule, zone, now, now + timedelta(days=366), PREVIEW_RUNS)
    return {"description": schedules.describe(schedule), "next_runs": [r.astimezone(tz) for r in runs]}


@console_page
def cron_preview(request):
    """The create form's live preview (htmx): what the expression means and when it fires next."""
    context = reading(request.GET.get("schedule", "").strip(), request.GET.get("timezone", "UTC").strip())
    return page(
        request, "console/cron/_preview.html", context, active="cron", partial="console/cron/_preview.html"
    )


@console_page
def cron_list(request):
    scope, now = request.mc_scope, timezone.now()
    jobs = list(
        selectors.cron_jobs(user=request.user, business=scope.current.slug if scope.current else None)
        .select_related("agent", "workflow")
        .order_by("business__name", "name")
    )
    open_job = id_or_none(request.GET.get("job"))
    history = {}
    if open_job is not None:
        job = next((j for j in jobs if j.pk == open_job), None)
        if job is not None:
            history[job.pk] = list(selectors.cron_runs(job=job).order_by("-scheduled_for")[:HISTORY_RUNS])
    if request.htmx and open_job is not None:
        job = next((j for j in jobs if j.pk == open_job), None)
        return fragment(
            request, "console/cron/_history.html", {"job": job, "runs": history.get(open_job, [])}
        )
    admin_ids = [b.pk for b in scope.businesses if b.pk in scope.ids and scope.can(b.pk, Role.ADMIN)]
    context = {
        "rows": [
            {
                "job": j,
                "next_run_at": j.next_run_at(now),
                "can_operate": scope.can(j.business_id, Role.OPERATOR),
                "can_admin": scope.can(j.business_id, Role.ADMIN),
                "runs": history.get(j.pk),
            }
            for j in jobs
        ],
        "admin_businesses": [b for b in scope.businesses if b.pk in admin_ids],
        "agents": Agent.objects.filter(business_id__in=admin_ids).select_related("business").order_by("name"),
        "workflows": Workflow.objects.filter(business_id__in=admin_ids)
        .select_related("business")
        .order_by("name"),
        "overlaps": Overlap.choices,
        "zones": COMMON_ZONES,
        "open_new": request.GET.get("new") == "1",
    }
    return page(request, "console/cron/list.html", context, active="cron", partial="console/cron/_table.html")


def _month(request) -> date:
    raw = request.GET.get("month", "")
    try:
        return datetime.strptime(raw, "%Y-%m").date()
    except ValueError:
        return timezone.now().date().replace(day=1)


@console_page
def calendar_page(request):
    """A month of runs: what ran (and how it ended) and what is scheduled, per day and job."""
    scope = request.mc_scope
    month = _month(request)
    weeks = Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    start = datetime.combine(weeks[0][0], datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(weeks[-1][-1] + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    entries, truncated = selectors.calendar(
        user=request.user, business=scope.current.slug if scope.current else None, start=start, end=end
    )
    # A job firing every minute has 1,440 runs a day: the day shows it once, with a count.
    by_day: dict[date, dict] = {}
    for entry in entries:
        day = entry["at"].date()
        key = (entry["cron_job"], entry["status"])
        slot = by_day.setdefault(day, {}).setdefault(
            key, {"name": entry["name"], "status": entry["status"], "count": 0, "first": entry["at"]}
        )
        slot["count"] += 1
    today = timezone.now().date()
    context = {
        "month": month,
        "previous": (month - timedelta(days=1)).replace(day=1),
        "next": (month + timedelta(days=32)).replace(day=1),
        "weeks": [
            [
                {
                    "date": d,
                    "in_month": d.month == month.month,
                    "today": d == today,
                    "items": sorted(by_day.get(d, {}).values(), key=lambda s: s["first"]),
                }
                for d in week
            ]
            for week in weeks
        ],
        "truncated": truncated,
        "total": len(entries),
        "statuses": [s for s, _ in CronRun._meta.get_field("status").choices],
    }
    return page(request, "console/cron/calendar.html", context, active="calendar")
