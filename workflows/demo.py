"""Demo seed for the work app: cron jobs, an epic of tasks with dependencies, and a workflow with a
run. Idempotent: what already exists (by name) is left alone. Runs after the governance, agents and
executions seeds (it reads ``business`` and, when present, ``agents`` from the shared context)."""

from agents.models import Agent
from agents.services import create_agent
from governance.controls import emergency_stop_active
from workflows import board, cron, definitions, runs
from workflows.models import CronJob, Epic, TaskStatus, Workflow

TRIAGE = {
    "steps": [
        {"id": "classify", "capability": "triage", "input": {"ticket": {"$ref": "input.ticket"}}},
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


def _agents(context: dict, business) -> list[Agent]:
    agents = [a for a in context.get("agents", []) if a.business_id == business.pk]
    agents = agents or list(Agent.objects.filter(business=business).order_by("id"))
    if len(agents) >= 2:
        return agents
    # The agents seed did not run (or made none): bring two of our own.
    made = []
    for name, caps in (("work-triager", ["triage", "support"]), ("work-writer", ["support", "docs"])):
        agent = Agent.objects.filter(business=business, name=name).first()
        made.append(agent or create_agent(business=business, name=name, capabilities=caps))
    return made


def seed(context: dict) -> None:
    business, admin = context["business"], context.get("admin")
    out = context["stdout"]
    agents = _agents(context, business)
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
    if not Epic.objects.filter(business=business, title="Launch v2").exists():
        epic = board.create_epic(
            business=business, title="Launch v2", description="Ship the v2 API.", actor=admin
        )
        spec = board.create_task(business=business, epic=epic, title="Write the v2 spec", actor=admin)
        build = board.create_task(
            business=business,
            epic=epic,
            title="Implement the API",
            required_capabilities=["support"],
            assignee=agents[1],
            blocked_by=[spec.pk],
            actor=admin,
        )
        review = board.create_task(
            business=business, epic=epic, title="Review the API", blocked_by=[build.pk], actor=admin
        )
        docs = board.create_task(
            business=business,
            epic=epic,
            title="Write the docs",
            required_capabilities=["docs"],
            blocked_by=[build.pk],
            actor=admin,
        )
        board.create_task(
            business=business,
            epic=epic,
            title="Release",
            priority=2,
            blocked_by=[review.pk, docs.pk],
            actor=admin,
        )
        board.update_task(task=spec, status=TaskStatus.DONE, actor=admin)  # unblocks "Implement the API"
    if not workflow.runs.exists() and not emergency_stop_active(business.pk):
        run = runs.start_run(
            workflow=workflow, input={"ticket": "Cannot log in since this morning"}, actor=admin
        )
        runs.advance(run_id=run.pk)  # no worker may be running yet: start its first step now
    out.write(
        "  Work: 3 cron jobs, the 'Launch v2' epic with 5 tasks, the 'Support triage' workflow and a run."
    )
