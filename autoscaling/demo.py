"""The demo's autoscaling: the two support agents scale on their queues, and a cron job floods
them every ten minutes (a workflow of eight parallel support steps, each routed to the cheapest
support agent), so the agent pages show replicas following the queue, with the decisions marked.
Everything goes through the services live work uses."""

from agents.models import Agent
from autoscaling import services
from workflows import cron, definitions
from workflows.models import CronJob, Workflow

SCALED = ("triage-bot", "support-writer")
BURST_STEPS = 8
BURST = {
    "steps": [
        {
            "id": f"ticket_{n}",
            "capability": "support",
            "input": {"ticket": {"$ref": "input.ticket"}, "part": n},
            # One ticket failing (the simulated fleet fails ~8 % of its work) must not end the run and
            # abort the other seven: the queue would drain in seconds, before the autoscaler looks.
            "continue_on_failure": True,
            "retry": {"max_attempts": 2, "initial_interval_s": 10},
        }
        for n in range(1, BURST_STEPS + 1)
    ]
}
BURST_NAME = "Support backlog burst"


def seed(context: dict) -> None:
    business, admin = context["business"], context.get("admin")
    enabled = 0
    for agent in Agent.objects.filter(business=business, name__in=SCALED).select_related("business"):
        if not hasattr(agent, "autoscale_policy"):
            services.save_policy(
                agent=agent,
                actor=admin,
                enabled=True,
                min_replicas=max(agent.min_scale, 1),
                max_replicas=agent.max_scale,
                target_pending_per_replica=2,
                target_wait_s=60,
                scale_down_window_s=120,
                cooldown_s=30,
            )
            enabled += 1
    workflow = Workflow.objects.filter(
        business=business, name=BURST_NAME
    ).first() or definitions.create_workflow(
        business=business,
        name=BURST_NAME,
        description=f"{BURST_STEPS} support tickets at once: what the autoscaler is for.",
        definition=BURST,
        actor=admin,
    )
    if not CronJob.objects.filter(business=business, name=BURST_NAME).exists():
        cron.create_job(
            business=business,
            name=BURST_NAME,
            schedule="*/10 * * * *",
            timezone="UTC",
            workflow=workflow,
            input={"ticket": "backlog"},
            overlap="allow",
            actor=admin,
        )
    context["stdout"].write(
        f"  Autoscaling: {enabled} support agent(s) scale on their queues; '{BURST_NAME}' floods them every 10 minutes."
    )
