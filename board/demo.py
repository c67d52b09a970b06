"""Demo seed for the board: the 'Launch v2' epic, five tasks with dependencies, the first one done.
Idempotent (an existing epic of that name is left alone). Runs after the agents seed (it assigns a
task to one of the business's agents), through the same services as live work."""

from agents.demo import demo_workers
from board import services
from board.models import Epic, TaskStatus


def seed(context: dict) -> None:
    business, admin = context["business"], context.get("admin")
    out = context["stdout"]
    if Epic.objects.filter(business=business, title="Launch v2").exists():
        out.write("  Board: kept the existing epic")
        return
    agents = demo_workers(context, business)
    epic = services.create_epic(
        business=business, title="Launch v2", description="Ship the v2 API.", actor=admin
    )
    spec = services.create_task(business=business, epic=epic, title="Write the v2 spec", actor=admin)
    build = services.create_task(
        business=business,
        epic=epic,
        title="Implement the API",
        required_capabilities=["support"],
        assignee=agents[1],
        blocked_by=[spec.pk],
        actor=admin,
    )
    review = services.create_task(
        business=business, epic=epic, title="Review the API", blocked_by=[build.pk], actor=admin
    )
    docs = services.create_task(
        business=business,
        epic=epic,
        title="Write the docs",
        required_capabilities=["docs"],
        blocked_by=[build.pk],
        actor=admin,
    )
    services.create_task(
        business=business,
        epic=epic,
        title="Release",
        priority=2,
        blocked_by=[review.pk, docs.pk],
        actor=admin,
    )
    services.update_task(task=spec, status=TaskStatus.DONE, actor=admin)  # unblocks "Implement the API"
    out.write("  Board: the 'Launch v2' epic with 5 tasks")
