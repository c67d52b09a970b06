"""Demo seed for the ledger: two weeks of history for the demo fleet, with logs and events.

Written with bulk inserts (thousands of rows in a few statements), priced with the same price data
as live reports, idempotent: an agent that already has demo history is skipped. History is not
booked against budgets (it happened before they existed); live work from the simulator is.
"""

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from agents.models import Agent
from executions import pricing
from executions.models import Execution, ExecutionLog, Status, Trigger
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
TASKS = [
    ("Classify the inbound ticket", {"ticket": "Customer cannot reset their password"}),
    ("Summarise the weekly sales report", {"report": "sales-week-{n}.pdf"}),
    ("Review pull request", {"repo": "billing-service", "pr": "{n}"}),
    ("Answer the support question", {"question": "How do I export invoices as CSV?"}),
    ("Check service health", {"targets": ["api", "worker", "db"]}),
    ("Draft release notes", {"version": "2.{n}.0"}),
    ("Run the nightly revenue query", {"query": "revenue_by_region", "day": "{day}"}),
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
    made = 0
    for agent in agents:
        if Execution.objects.filter(agent=agent, external_id__startswith="demo-").exists():
            continue
        made += _history(agent)
    context["stdout"].write(f"  Executions: {made} demo executions over the past {DAYS} days")


@transaction.atomic
def _history(agent: Agent) -> int:
    rng = random.Random(f"mission-control-demo-{agent.business.slug}-{agent.name}")
    model, provider = MODELS.get(agent.name, ("gpt-4o-mini", "openai"))
    flaky = agent.name == "research-scout"
    autonomous = agent.name in ("ops-sentinel", "lab-experimenter")
    now = timezone.now()
    rows, plans = [], []
    for n in range(PER_AGENT):
        started = now - timedelta(seconds=rng.uniform(120, DAYS * 86400))
        # Busier in working hours: shift a third of the night runs into the day.
        if started.hour < 7 and rng.random() < 0.33:
            started += timedelta(hours=9)
        started = min(started, now - timedelta(seconds=120))
        duration_ms = int(rng.lognormvariate(8.3, 0.8))
        status = _status(rng, flaky)
        title, template = rng.choice(TASKS)
        input_tokens = int(rng.lognormvariate(7.2, 0.7))
        cache = int(input_tokens * rng.choice((0, 0, 0.3, 0.6)))
        output_tokens = int(rng.lognormvariate(5.6, 0.6)) if status == Status.SUCCESS else rng.randint(0, 80)
        error_type, error = rng.choice(ERRORS) if status == Status.FAILED else ("", "")
        if status == Status.ABORTED:
            error_type, error = "aborted", "Aborted by an operator."
        row = Execution(
            business_id=agent.business_id,
            agent=agent,
            trigger=Trigger.AUTONOMOUS if autonomous else _trigger(rng),
            status=status,
            external_id=f"demo-{agent.pk}-{n}",
            input={"task": title, **_fill(template, n, started)},
            output={"result": f"{title}: done", "confidence": round(rng.uniform(0.6, 0.99), 2)}
            if status == Status.SUCCESS
            else None,
            prompt=f"You are {agent.name}. {title}.",
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
        plans.append(title)
    created = Execution.objects.bulk_create(rows, batch_size=500)
    logs, events = [], []
    for row, title in zip(created, plans, strict=True):
        logs.extend(_logs(rng, row, title))
        events.append(_event(agent, row))
    ExecutionLog.objects.bulk_create(logs, batch_size=1000)
    Event.objects.bulk_create(events, batch_size=1000)
    return len(created)


def _status(rng: random.Random, flaky: bool) -> str:
    roll = rng.random()
    failed = 0.22 if flaky else 0.06
    if roll < failed:
        return Status.FAILED
    if roll < failed + 0.02:
        return Status.ABORTED
    return Status.SUCCESS


def _trigger(rng: random.Random) -> str:
    return rng.choices(
        [Trigger.CRON, Trigger.MANUAL, Trigger.WORKFLOW, Trigger.WEBHOOK], weights=[5, 2, 2, 1]
    )[0]


def _fill(template: dict, n: int, started) -> dict:
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
        entries.append(("info", "completion", f"{title}: done", {"tokens": row.output_tokens}))
    else:
        entries.append(("warning", "log", "Abort received; stopping.", None))
    return [
        ExecutionLog(
            execution_id=row.pk, seq=i + 1, ts=ts + step * i, level=level, kind=kind, message=msg, data=data
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
