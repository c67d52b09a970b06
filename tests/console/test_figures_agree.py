"""One fact, one figure: a seeded business (the demo, plus live work and heartbeats) shows each shared
figure the same on every page and API endpoint that shows it.

Pages mark each shared figure with ``data-figure="<name>"``; every page's marks are collected and
each name must read the same everywhere, and match the API's value formatted as the pages format it.
Figures checked: cron runs and cron success (24 h) and each job's runs and success rate; month to
date and each budget's spent; each agent's status and running count, agents by status, and running
and queued executions.
"""

import re
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from agents.heartbeats import record_heartbeat
from agents.models import Agent
from console.templatetags.console import number, pct
from executions.models import Execution
from governance.models import Budget
from mission_control.demo import seed_all
from mission_control.display import money
from observability.dashboards import window_bounds
from tests.conftest import client_for
from tests.console.conftest import signed_in
from workflows.models import CronJob, CronRun, CronRunStatus

PAGES = ["/control", "/global/analytics", "/agents", "/global/cron", "/global/costs", "/global/settings"]


class Figures(HTMLParser):
    """Texts of the elements marked ``data-figure``, by name."""

    def __init__(self):
        super().__init__()
        self.found: dict[str, list[str]] = {}
        self._open: list[tuple[str | None, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        if tag in {"br", "img", "input", "meta", "link", "hr"}:
            return
        self._open.append((dict(attrs).get("data-figure"), []))

    def handle_endtag(self, tag):
        if not self._open or tag in {"br", "img", "input", "meta", "link", "hr"}:
            return
        name, parts = self._open.pop()
        text = " ".join("".join(parts).split())
        if name:
            self.found.setdefault(name, []).append(text)
        if self._open:
            self._open[-1][1].append(text)

    def handle_data(self, data):
        if self._open:
            self._open[-1][1].append(data)


def figures(client, path: str) -> dict[str, list[str]]:
    response = client.get(path)
    assert response.status_code == 200, path
    parser = Figures()
    parser.feed(response.content.decode())
    return parser.found


@pytest.fixture
def seeded(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    seed_all(StringIO())
    demo = list(Agent.objects.filter(business__slug="demo").order_by("name"))
    now = timezone.now()
    # Live state beside the history: beating agents in every reported status, work running and queued.
    record_heartbeat(agent=demo[0], status="idle")  # idle by report, but it has work running: active
    record_heartbeat(agent=demo[1], status="active")  # active by report, nothing running: idle
    record_heartbeat(agent=demo[2], status="blocked")
    for agent, status in ((demo[0], "running"), (demo[0], "running"), (demo[3], "pending")):
        Execution.objects.create(
            business_id=agent.business_id, agent=agent, status=status, trigger="manual", created_at=now
        )
    admin = get_user_model().objects.get(username="admin")
    return {"admin": admin, "agents": demo, "now": now}


@pytest.fixture
def frozen(seeded):
    # Windows are whole hours: an hour turning between two requests would move them.
    with time_machine.travel(timezone.now(), tick=False):
        yield seeded


def test_it_shows_each_shared_figure_the_same_everywhere(frozen):
    seeded = frozen
    admin = seeded["admin"]
    page, api = signed_in(admin), client_for(admin)
    seen: dict[str, set[str]] = {}
    for path in PAGES + [f"/agents/{a.pk}" for a in Agent.objects.all()]:
        for name, texts in figures(page, path).items():
            seen.setdefault(name, set()).update(texts)
    disagreeing = {name: texts for name, texts in seen.items() if len(texts) != 1}
    assert not disagreeing, disagreeing
    shown = {name: texts.pop() for name, texts in seen.items()}

    # Cron runs and success over 24 h: the control panel and analytics read the runs themselves.
    summary = api.get("/api/v1/dashboard/summary").json()
    since, _ = window_bounds(timedelta(hours=24), timezone.now())  # whole hours, as the rollups
    finished = CronRun.objects.filter(
        scheduled_for__gte=since, status__in=(CronRunStatus.SUCCESS, CronRunStatus.FAILED)
    )
    assert summary["cron_runs"] == finished.count() > 0
    assert shown["cron-runs"] == number(summary["cron_runs"])
    assert shown["cron-success"] == pct(summary["cron_success_rate"], 1)
    # Each job's runs and success: the cron page, the API and the job's own run rows.
    jobs = {j["id"]: j for j in api.get("/api/v1/cron-jobs/").json()["results"]}
    for job in CronJob.objects.all():
        runs = job.runs.filter(status__in=(CronRunStatus.SUCCESS, CronRunStatus.FAILED))
        assert jobs[job.pk]["runs_finished"] == runs.count()
        assert shown[f"cron-job-runs-{job.pk}"] == str(runs.count())
        assert shown[f"cron-job-success-{job.pk}"] == pct(jobs[job.pk]["success_rate"])
    assert CronJob.objects.filter(runs_finished__gt=0).count() == 2  # the demo's agent jobs have history
    # The same runs show on the bottlenecks page (their executions) and the calendar (past runs).
    bottlenecks = page.get("/global/bottlenecks").content.decode()
    assert "No cron runs in this window." not in bottlenecks and "Inbox sweep" in bottlenecks
    latest = CronRun.objects.filter(status=CronRunStatus.SUCCESS).latest("scheduled_for").scheduled_for
    calendar = page.get(f"/global/calendar?month={latest:%Y-%m}").content.decode()
    assert re.search(r'badge s-success">success</span>\s*(Inbox sweep|Nightly usage report)', calendar)

    # Spend: the business's month to date is its month budget's spent (the budget predates it all),
    # on the costs page, the settings page, the budgets API and the projection API.
    projection = {p["business"]: p for p in api.get("/api/v1/dashboard/projection").json()["results"]}
    budgets = {b["id"]: b for b in api.get("/api/v1/budgets/").json()["results"]}
    month = Budget.objects.get(business__slug="demo", period="month", agent_id=None)
    # The budget keeps 6 decimal places, the ledger 8: equal to a few micro-dollars.
    gap = Decimal(budgets[month.pk]["spent_usd"]) - Decimal(projection["demo"]["month_to_date_usd"])
    assert abs(gap) <= Decimal("0.00001")
    assert shown["month-to-date-demo"] == money(projection["demo"]["month_to_date_usd"])
    for budget in Budget.objects.filter(enabled=True):
        assert shown[f"budget-spent-{budget.pk}"] == money(budgets[budget.pk]["spent_usd"])
    # One projection rule: the budgets API, the projection API, the settings and costs pages; the
    # business-wide month budget (counting the whole month) projects the business's month end.
    projected = {b["budget"]: b for b in projection["demo"]["budgets"]}
    for budget in Budget.objects.filter(enabled=True).exclude(period="total"):
        api_figure = budgets[budget.pk]["projected_usd"]
        assert abs(Decimal(api_figure) - Decimal(projected[budget.pk]["projected_usd"])) <= Decimal(
            "0.000001"
        )
        assert shown[f"budget-projected-{budget.pk}"] == money(api_figure)
    assert shown["month-end-demo"] == shown[f"budget-projected-{month.pk}"]
    day = Budget.objects.get(business__slug="demo", period="day")
    start = budgets[day.pk]["window_start"]
    ledger_today = sum(  # work counts where it finished, in budgets as in the rollups
        e.cost_usd for e in Execution.objects.filter(business__slug="demo", finished_at__gte=start)
    )
    assert abs(Decimal(budgets[day.pk]["spent_usd"]) - ledger_today) <= Decimal("0.00001")  # 6 places vs 8

    # Agents: each one's status and running count, and the counts by status.
    listed = {a["id"]: a for a in api.get("/api/v1/agents/").json()["results"]}
    table = {r["agent"]: r for r in api.get("/api/v1/dashboard/agents").json()["results"]}
    for agent in Agent.objects.all():
        running = Execution.objects.filter(agent=agent, status="running").count()
        assert shown[f"agent-status-{agent.pk}"] == listed[agent.pk]["status"] == table[agent.pk]["status"]
        assert listed[agent.pk]["running_now"] == table[agent.pk]["running"] == running
        if running:
            assert shown[f"agent-running-{agent.pk}"] == str(running)
    first, second, third = seeded["agents"][:3]
    assert (listed[first.pk]["status"], listed[second.pk]["status"]) == ("active", "idle")
    assert listed[third.pk]["status"] == "blocked"
    statuses = [a["status"] for a in listed.values()]
    for status in ("active", "idle", "blocked", "offline"):
        assert summary["agents"][status] == statuses.count(status)
    for status in ("active", "idle", "blocked"):
        assert shown[f"agents-{status}"] == str(summary["agents"][status])
    assert shown["running"] == number(summary["executions"]["running"]) == "2"
    # Failures over 24 h: the health tile (rollups) and the failures panel (the ledger) count alike.
    assert shown["failed-24h"] == number(summary["executions"]["failed"])
    assert shown["queued"] == number(summary["executions"]["queued"])
