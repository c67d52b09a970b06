"""Demo seed for the ledger: two weeks of history for the demo fleet, with logs and events.

Written with bulk inserts (thousands of rows in a few statements), priced with the same price data
as live reports, and booked into the budgets' windows (``governance.spend_history``) so a budget's
spent and the ledger's cost agree. Idempotent: an agent that already has demo history is skipped.
``record`` is also how the workflows app's demo writes its cron jobs' past runs.
"""

import json
import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from agents.models import Agent
from executions import pricing
from executions.models import Execution, ExecutionLog, Status, Trigger
from governance.spend_history import book_history
from mission_control.models import Event

DAYS = 14
PER_AGENT = 450  # about 3,600 executions for the eight demo agents
MODELS = {  # agent name -> (model, provider); others get a default
    "triage-bot": ("gpt-4o-mini", "openai"),
    "support-writer": ("claude-sonnet-4", "anthropic"),
    "code-reviewer": ("gpt-4.1", "openai"),
    "research-scout": ("gemini-2.5-flash", "google"),
    "ops-sentinel": ("claude-3-5-haiku", "anthropic"),
    "data-analyst": ("gpt-4o", "openai"),
    "lab-experimenter": ("claude-opus-4", "anthropic"),
    "lab-summarizer": ("gemini-2.5-pro", "google"),
}
# title, input, and what a finished run answers: the output answers its prompt.
TASKS = [
    (
        "Classify the inbound ticket",
        {"ticket": "Customer cannot reset their password"},
        {"label": "account-access", "priority": "high", "answer": "Password reset loop: route to identity."},
    ),
    (
        "Summarise the weekly sales report",
        {"report": "sales-week-{n}.pdf"},
        {"answer": "Revenue up 4.2% week on week, led by EMEA; churn flat at 1.1%."},
    ),
    (
        "Review pull request",
        {"repo": "billing-service", "pr": "{n}"},
        {
            "verdict": "changes requested",
            "answer": "2 comments: retry lacks jitter; no test for the 429 path.",
        },
    ),
    (
        "Answer the support question",
        {"question": "How do I export invoices as CSV?"},
        {"answer": "Billing > Invoices > Export, then choose CSV; exports cover up to 12 months."},
    ),
    (
        "Check service health",
        {"targets": ["api", "worker", "db"]},
        {"healthy": ["api", "worker", "db"], "answer": "All three healthy; p95 latency 212 ms."},
    ),
    (
        "Draft release notes",
        {"version": "2.{n}.0"},
        {"answer": "Release 2.{n}.0: faster exports, SSO for teams, 14 fixes."},
    ),
    (
        "Run the nightly revenue query",
        {"query": "revenue_by_region", "day": "{day}"},
        {"rows": 4, "answer": "Revenue for {day}: EMEA $41.2k, NA $38.9k, APAC $17.4k, LATAM $6.1k."},
    ),
]
ERRORS = [
    ("rate_limit", "Provider rate limit hit (429): retry after 20 s."),
    ("timeout", "Timed out: still running 300 s after it started."),
    ("tool_error", "Tool 'crm.lookup' failed: upstream gateway exploded (502)."),
    ("bad_input", "Invalid prompt: the ticket body was empty."),
]


def seed(context: dict) -> None:
    agents = context.get("agents") or list(
        Agent.objects.filter(business__in=context.get("businesses", [])).select_related("business")
    )
    made = kept = 0
    for agent in agents:
        existing = Execution.objects.filter(agent=agent, external_id__startswith="demo-").count()
        if existing:
            kept += existing
            continue
        made += _history(agent)
    out = context["stdout"]
    if made:
        out.write(f"  Executions: {made} demo executions over the past {DAYS} days")
    if kept:
        out.write(f"  Executions: kept the existing demo history ({kept} executions)")


def _history(agent: Agent) -> int:
    rng = random.Random(f"mission-control-demo-{agent.business.slug}-{agent.name}")
    now = timezone.now()
    starts = []
    for _ in range(PER_AGENT):
        started = now - timedelta(seconds=rng.uniform(120, DAYS * 86400))
        # Busier in working hours: shift a third of the night runs into the day.
        if started.hour < 7 and rng.random() < 0.33:
            started += timedelta(hours=9)
        starts.append(min(started, now - timedelta(seconds=120)))
    autonomous = agent.name in ("ops-sentinel", "lab-experimenter")
    plans = [(s, Trigger.AUTONOMOUS if autonomous else _trigger(rng), rng.choice(TASKS)) for s in starts]
    return len(record(agent, plans, rng=rng, key="demo"))


@transaction.atomic
def record(agent: Agent, plans: list, *, rng: random.Random, key: str, cron_job_id=None) -> list[Execution]:
    """Write finished executions of ``agent``, one per ``(started, trigger, (title, input, answer))``,
    with their logs and events, and book their cost into the budgets they fall in."""
    model, provider = MODELS.get(agent.name, ("gpt-4o-mini", "openai"))
    flaky = agent.name == "research-scout"
    rows, titles = [], []
    for n, (started, trigger, (title, template, answer)) in enumerate(plans):
        duration_ms = int(rng.lognormvariate(8.3, 0.8))
        status = _status(rng, flaky)
        input_tokens = int(rng.lognormvariate(7.2, 0.7))
        cache = int(input_tokens * rng.choice((0, 0, 0.3, 0.6)))
        output_tokens = int(rng.lognormvariate(5.6, 0.6)) if status == Status.SUCCESS else rng.randint(0, 80)
        error_type, error = rng.choice(ERRORS) if status == Status.FAILED else ("", "")
        if status == Status.ABORTED:
            error_type, error = "aborted", "Aborted by an operator."
        given = _fill(template, n, started)
        row = Execution(
            business_id=agent.business_id,
            agent=agent,
            trigger=trigger,
            cron_job_id=cron_job_id,
            status=status,
            external_id=f"{key}-{agent.pk}-{n}",
            input={"task": title, **given},
            output={**_fill(answer, n, started), "confidence": round(rng.uniform(0.6, 0.99), 2)}
            if status == Status.SUCCESS
            else None,
            prompt=f"You are {agent.name}. {title}: {json.dumps(given, ensure_ascii=False)}",
            error=error,
            error_type=error_type,
            created_at=started,
            started_at=started,
            finished_at=started + timedelta(milliseconds=duration_ms),
            duration_ms=duration_ms,
            model=model,
            model_provider=provider,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache,
            total_tokens=input_tokens + output_tokens,
            requested_by="demo",
            session_id=f"sess-{rng.randrange(16**8):08x}",
        )
        cost = pricing.cost_of(
            reported=None,
            provider=provider,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache,
            at=started,
        )
        row.cost_usd, row.cost_source, row.price_data_version = cost.usd, cost.source, cost.version
        rows.append(row)
        titles.append(title)
    created = Execution.objects.bulk_create(rows, batch_size=500)
    logs, events = [], []
    for row, title in zip(created, titles, strict=True):
        logs.extend(_logs(rng, row, title))
        events.append(_event(agent, row))
    ExecutionLog.objects.bulk_create(logs, batch_size=1000)
    Event.objects.bulk_create(events, batch_size=1000)
    book_history(
        business=agent.business,
        entries=[(agent.pk, row.model, row.started_at, row.cost_usd) for row in created],
    )
    return created


def _status(rng: random.Random, flaky: bool) -> str:
    roll = rng.random()
    failed = 0.22 if flaky else 0.06
    if roll < failed:
        return Status.FAILED
    if roll < failed + 0.02:
        return Status.ABORTED
    return Status.SUCCESS


def _trigger(rng: random.Random) -> str:
    # No "cron" here: cron work exists only as runs of a cron job (the workflows app's demo writes those).
    return rng.choices([Trigger.MANUAL, Trigger.WEBHOOK], weights=[3, 1])[0]


def _fill(template: dict, n: int, started) -> dict:
    """The template with ``{n}`` and ``{day}`` filled in."""

    def fill(value):
        if isinstance(value, str):
            return value.replace("{n}", str(n % 97)).replace("{day}", started.date().isoformat())
        return value

    return {key: fill(value) for key, value in template.items()}


def _logs(rng: random.Random, row: Execution, title: str) -> list[ExecutionLog]:
    ts = row.started_at
    step = timedelta(milliseconds=max(1, row.duration_ms // 5))
    entries = [("info", "prompt", title, {"tokens": row.input_tokens})]
    if rng.random() < 0.7:
        entries.append(("debug", "tool_call", "crm.lookup(customer_id=…)", {"tool": "crm.lookup"}))
    entries.append(("info", "api_call", f"POST {row.model_provider} /chat ({row.model})", {"status": 200}))
    if row.status == Status.FAILED:
        entries.append(("error", "log", row.error, {"error_type": row.error_type}))
    elif row.status == Status.SUCCESS:
        entries.append(("info", "completion", row.output["answer"], {"tokens": row.output_tokens}))
    else:
        entries.append(("warning", "log", "Abort received; stopping.", None))
    return [
        ExecutionLog(
            execution_id=row.pk,
            execution_created_at=row.created_at,
            agent_id=row.agent_id,
            business_id=row.business_id,
            seq=i + 1,
            ts=ts + step * i,
            level=level,
            kind=kind,
            message=msg,
            data=data,
        )
        for i, (level, kind, msg, data) in enumerate(entries)
    ]


def _event(agent: Agent, row: Execution) -> Event:
    kind = {Status.SUCCESS: "execution.succeeded", Status.FAILED: "execution.failed"}.get(
        row.status, "execution.aborted"
    )
    text = f"Execution #{row.pk} {row.status}" + (f": {row.error[:200]}" if row.error else "")
    return Event(
        ts=row.finished_at,
        kind=kind,
        business_id=agent.business_id,
        business_slug=agent.business.slug,
        agent_id=agent.pk,
        execution_id=row.pk,
        actor=f"agent:{agent.pk}",
        message=text[:500],
        data={"status": row.status, "trigger": row.trigger, "cost_usd": str(row.cost_usd), "demo": True},
    )
