"""Demo seed for the workflows app: cron jobs with their history, and a workflow with a run. Idempotent: what already exists (by name) is left alone. Runs after the governance, agents and
executions seeds (it reads ``business`` and, when present, ``agents`` from the shared context)."""

import random
from datetime import timedelta

from django.utils import timezone

from agents.demo import demo_workers
from executions.demo import DAYS, record
from executions.models import Status, Trigger
from governance.controls import emergency_stop_active
from workflows import cron, cron_firing, definitions, runs, schedules
from workflows.models import CronJob, CronRun, CronRunStatus, Workflow

# What each demo job's runs do: title, input and answer, as executions.demo.TASKS.
CRON_WORK = {
    "Nightly usage report": (
        "Compile the nightly usage report",
        {"report": "usage", "day": "{day}"},
        {"answer": "Usage for {day}: 1,8{n} active seats, 312k API calls, storage 71% of plan."},
    ),
    "Inbox sweep": (
        "Sweep the support inbox",
        {"folder": "support"},
        {"answer": "Triaged {n} new messages: 3 answered from the knowledge base, 1 escalated."},
    ),
}

TRIAGE = {
    "steps": [
        {
            "id": "classify",
            "capability": "triage",
            "input": {"ticket": {"$ref": "input.ticket"}},
            # The demo starts a run while seeding, before the simulated fleet's first heartbeat: routed
            # work goes to online agents only, so the step waits for them (no_eligible_agent retries).
            "retry": {"max_attempts": 4, "initial_interval_s": 20, "backoff": "exponential"},
        },
        {
            "id": "answer",
            "capability": "support",
            "depends_on": ["classify"],
            "when": "steps.classify.output.label != 'urgent'",
            "input": {"ticket": {"$ref": "input.ticket"}, "label": {"$ref": "steps.classify.output.label"}},
            "retry": {"max_attempts": 3, "initial_interval_s": 30, "backoff": "exponential"},
            "timeout_s": 600,
        },
        {
            "id": "escalate",
            "capability": "support",
            "depends_on": ["classify"],
            "when": "steps.classify.output.label == 'urgent'",
            "input": {"ticket": {"$ref": "input.ticket"}},
        },
        {
            "id": "summarize",
            "capability": "triage",
            "depends_on": ["answer", "escalate"],
            "input": {
                "answer": {"$ref": "steps.answer.output"},
                "escalation": {"$ref": "steps.escalate.output"},
            },
            "continue_on_failure": False,
        },
    ]
}


def _cron_history(job: CronJob) -> int:
    """The job's past runs over the demo's two weeks, each with the execution it started, written
    as the cron service would have (run rows, then the job's figures rebuilt from them)."""
    title, template, answer = CRON_WORK[job.name]
    now = timezone.now()
    since = now - timedelta(days=DAYS)
    slots, _ = schedules.between(job.schedule, job.timezone, since, now - timedelta(minutes=10), 2000)
    rng = random.Random(f"mission-control-demo-cron-{job.business.slug}-{job.name}")
    plans = [
        (slot + timedelta(seconds=rng.uniform(0.3, 4)), Trigger.CRON, (title, template, answer))
        for slot in slots
    ]
    executions = record(job.agent, plans, rng=rng, key=f"demo-cron{job.pk}", cron_job_id=job.pk)
    CronRun.objects.bulk_create(
        [
            CronRun(
                cron_job=job,
                scheduled_for=slot,
                status=CronRunStatus.SUCCESS if e.status == Status.SUCCESS else CronRunStatus.FAILED,
                reason=""
                if e.status == Status.SUCCESS
                else ("aborted" if e.status == Status.ABORTED else "execution_failed"),
                detail=e.error[:2000],
                execution=e,
                requested_by="beat",
                created_at=slot,
                started_at=e.started_at,
                finished_at=e.finished_at,
                duration_ms=e.duration_ms,
            )
            for slot, e in zip(slots, executions, strict=True)
        ]
    )
    # The job existed for the whole history (so no slot of it is reported missed).
    CronJob.objects.filter(pk=job.pk).update(created_at=since, active_since=since)
    cron_firing.recount(job=job)
    return len(slots)


def seed(context: dict) -> None:
    business, admin = context["business"], context.get("admin")
    out = context["stdout"]
    agents = demo_workers(context, business)
    existing = CronJob.objects.filter(business=business).count()
    if not Workflow.objects.filter(business=business, name="Support triage").exists():
        definitions.create_workflow(
            business=business,
            name="Support triage",
            description="Classify a ticket, answer it or escalate it, then summarise.",
            definition=TRIAGE,
            actor=admin,
        )
    workflow = Workflow.objects.get(business=business, name="Support triage")
    jobs = [
        ("Nightly usage report", "0 2 * * *", "Europe/Paris", {"agent": agents[0]}, {"report": "usage"}),
        ("Inbox sweep", "*/15 8-18 * * 1-5", "Europe/Paris", {"agent": agents[1]}, {"folder": "support"}),
        ("Weekly triage drill", "0 9 * * 1", "America/New_York", {"workflow": workflow}, {"ticket": "drill"}),
    ]
    for name, schedule, zone, target, payload in jobs:
        if not CronJob.objects.filter(business=business, name=name).exists():
            cron.create_job(
                business=business,
                name=name,
                schedule=schedule,
                timezone=zone,
                input=payload,
                actor=admin,
                **target,
            )
    past_runs = 0
    for job in CronJob.objects.filter(
        business=business, name__in=CRON_WORK, agent__isnull=False
    ).select_related("agent__business", "business"):
        if not job.runs.exists():
            past_runs += _cron_history(job)
    if not workflow.runs.exists() and not emergency_stop_active(business.pk):
        run = runs.start_run(
            workflow=workflow, input={"ticket": "Cannot log in since this morning"}, actor=admin
        )
        runs.advance(run_id=run.pk)  # no worker may be running yet: start its first step now
    if existing:
        out.write("  Work: kept the existing cron jobs and workflow")
    else:
        out.write(f"  Work: 3 cron jobs with {past_runs} past runs, the 'Support triage' workflow and a run.")
