"""The task board: epics, tasks, dependencies, claiming and hand-off. One transaction per action.

A task waits in ``blocked`` while any task it is blocked by is not done; when the last one is
done it becomes ready again (``assigned`` if it has an assignee, else ``inbox``), and an agent whose
capabilities fit can claim it. Dependency edits are serialised per business (a row lock on the
business) so two concurrent edits can never close a cycle that each alone would not.
"""

from collections import defaultdict

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from agents.models import Agent
from board.models import Epic, EpicStatus, Task, TaskComment, TaskDependency, TaskStatus
from governance import audit
from governance.audit import actor_name
from governance.controls import emergency_stop_active
from governance.models import Business
from mission_control.errors import DomainError
from mission_control.events import publish

WAITING = (TaskStatus.INBOX, TaskStatus.ASSIGNED)
AGENT_STATUSES = (
    TaskStatus.INBOX,
    TaskStatus.IN_PROGRESS,
    TaskStatus.REVIEW,
    TaskStatus.DONE,
    TaskStatus.BLOCKED,
)
TASK_FIELDS = (
    "title",
    "description",
    "status",
    "priority",
    "assignee",
    "required_capabilities",
    "epic",
    "parent",
)


def _invalid(field: str, message: str) -> DomainError:
    return DomainError("validation_error", f"{field}: {message}", fields={field: [message]})


def _event(task: Task, kind: str, message: str, actor, **data) -> None:
    publish(
        kind=kind,
        business=task.business,
        agent_id=task.assignee_id,
        actor=actor_name(actor),
        message=message,
        data={"task": task.pk, "status": task.status, **data},
    )


def _activity(task: Task, actor, body: str, **data) -> None:
    agent = getattr(actor, "agent", None)
    TaskComment.objects.create(
        task=task, kind=TaskComment.Kind.ACTIVITY, author=actor_name(actor), agent=agent, body=body, data=data
    )


@transaction.atomic
def create_epic(
    *, business: Business, title: str, description: str = "", status: str = EpicStatus.OPEN, actor=None
) -> Epic:
    epic = Epic.objects.create(
        business=business, title=title, description=description, status=status, created_by=actor_name(actor)
    )
    publish(
        kind="epic.created",
        business=business,
        actor=actor_name(actor),
        message=f"Epic {title} created",
        data={"epic": epic.pk},
    )
    return epic


@transaction.atomic
def update_epic(*, epic: Epic, actor=None, **changes) -> Epic:
    for name, value in changes.items():
        setattr(epic, name, value)
    epic.save()
    publish(
        kind="epic.updated",
        business=epic.business,
        actor=actor_name(actor),
        message=f"Epic {epic.title} updated",
        data={"epic": epic.pk, "changed": sorted(changes)},
    )
    return epic


@transaction.atomic
def delete_epic(*, epic: Epic, actor=None) -> None:
    """Delete an epic, audited and announced; its tasks stay on the board, without an epic."""
    before = {"title": epic.title, "status": epic.status, "tasks": epic.tasks.count()}
    pk = epic.pk
    epic.delete()
    audit.record(
        actor=actor,
        action="epic.delete",
        business=epic.business,
        target_type="epic",
        target_id=pk,
        before=before,
    )
    publish(
        kind="epic.deleted",
        business=epic.business,
        actor=actor_name(actor),
        message=f"Epic {epic.title} deleted",
        data={"epic": pk},
    )


def _check_relations(task: Task) -> None:
    for name in ("epic", "parent", "assignee"):
        related = getattr(task, name)
        if related is not None and related.business_id != task.business_id:
            raise _invalid(name, f"No such {name} in this business.")
    seen, parent = {task.pk}, task.parent
    while parent is not None:
        if parent.pk in seen:
            raise DomainError(
                "parent_cycle", "A task cannot be its own ancestor.", fields={"parent": ["Cycle."]}
            )
        seen.add(parent.pk)
        parent = parent.parent
    caps = task.required_capabilities
    if not isinstance(caps, list) or not all(isinstance(c, str) and c for c in caps):
        raise _invalid("required_capabilities", "Give a list of capability names.")


@transaction.atomic
def create_task(*, business: Business, title: str, actor=None, blocked_by=(), **fields) -> Task:
    """Create a task; with open blockers it starts ``blocked``, with an assignee ``assigned``."""
    unknown = set(fields) - set(TASK_FIELDS)
    if unknown:
        raise TypeError(f"unknown task fields: {sorted(unknown)}")
    task = Task(business=business, title=title, created_by=actor_name(actor), **fields)
    if "status" not in fields and task.assignee_id:
        task.status = TaskStatus.ASSIGNED
    _check_relations(task)
    task.save()
    if blocked_by:
        _set_blockers(task, list(blocked_by), actor)
        if task.status in WAITING and _has_open_blockers(task):
            task.status = TaskStatus.BLOCKED
            task.save(update_fields=["status"])
    _activity(task, actor, "created")
    _event(task, "task.created", f"Task {title} created", actor)
    return task


@transaction.atomic
def update_task(
    *, task: Task, actor=None, blocked_by=None, handoff_to: Agent | None = None, **changes
) -> Task:
    """Change a task (by an operator, or by the agent holding it). Finishing it unblocks its
    dependents; ``handoff_to`` assigns the dependents that became ready and had no assignee."""
    unknown = set(changes) - set(TASK_FIELDS) - {"result"}
    if unknown:
        raise TypeError(f"unknown task fields: {sorted(unknown)}")
    task = (
        Task.objects.select_for_update(of=("self",), no_key=True).select_related("business").get(pk=task.pk)
    )
    before = {name: _value(task, name) for name in changes}
    for name, value in changes.items():
        setattr(task, name, value)
    if "assignee" in changes and "status" not in changes:
        if task.assignee_id and task.status == TaskStatus.INBOX:
            task.status = TaskStatus.ASSIGNED
        elif not task.assignee_id and task.status == TaskStatus.ASSIGNED:
            task.status = TaskStatus.INBOX
    _check_relations(task)
    if blocked_by is not None:
        _set_blockers(task, list(blocked_by), actor)
    if task.status in WAITING and _has_open_blockers(task):
        task.status = TaskStatus.BLOCKED
    if task.status == TaskStatus.DONE and before.get("status") != TaskStatus.DONE:
        task.completed_at = timezone.now()
    elif task.status != TaskStatus.DONE:
        task.completed_at = None
    task.save()
    changed = sorted(name for name in changes if before[name] != _value(task, name))
    if "status" in changes and before.get("status") != task.status:
        _activity(task, actor, f"status {before['status']} → {task.status}", status=task.status)
        _event(
            task,
            "task.status_changed",
            f"Task {task.title}: {before['status']} → {task.status}",
            actor,
            previous=before["status"],
        )
        if task.status == TaskStatus.DONE:
            _unblock_dependents(task, actor, handoff_to)
        elif before.get("status") == TaskStatus.DONE:
            _reblock_dependents(task, actor)
    elif changed or blocked_by is not None:
        _activity(task, actor, f"updated {', '.join(changed or ['blocked_by'])}")
        _event(task, "task.updated", f"Task {task.title} updated", actor, changed=changed)
    return task


@transaction.atomic
def delete_task(*, task: Task, actor=None) -> None:
    """Delete a task; whatever it blocked is re-checked (it may now be ready)."""
    dependents = list(Task.objects.filter(pk__in=_dependent_ids(task)))
    publish(
        kind="task.deleted",
        business=task.business,
        actor=actor_name(actor),
        message=f"Task {task.title} deleted",
        data={"task": task.pk},
    )
    task.delete()
    for dependent in dependents:
        _maybe_ready(dependent, actor, None)


@transaction.atomic
def comment(*, task: Task, body: str, actor=None) -> TaskComment:
    if not body or not body.strip():
        raise _invalid("body", "A comment needs some text.")
    note = TaskComment.objects.create(
        task=task,
        kind=TaskComment.Kind.COMMENT,
        author=actor_name(actor),
        agent=getattr(actor, "agent", None),
        body=body,
    )
    _event(task, "task.commented", f"{actor_name(actor)} commented on {task.title}", actor, comment=note.pk)
    return note


def _value(task: Task, name: str):
    return getattr(task, f"{name}_id") if name in ("assignee", "epic", "parent") else getattr(task, name)


def agent_update(
    *, task: Task, agent: Agent, comment_body: str = "", handoff_to: Agent | None = None, **changes
) -> Task:
    """An agent moves on a task it holds (status, result) and may leave a comment. Going back to
    ``inbox`` gives the task up for someone else to claim."""
    if task.assignee_id != agent.pk:
        raise DomainError("not_holder", "Agents may only update the tasks they hold.")
    status = changes.get("status")
    if status is not None and status not in AGENT_STATUSES:
        raise _invalid("status", f"Agents may set {', '.join(AGENT_STATUSES)}.")
    if status == TaskStatus.INBOX:
        changes["assignee"] = None
    actor = _AgentActor(agent)
    with transaction.atomic():
        if comment_body:
            comment(task=task, body=comment_body, actor=actor)
        return update_task(task=task, actor=actor, handoff_to=handoff_to, **changes)


class _AgentActor:
    """What the audit/activity helpers need to name an agent acting on its own behalf."""

    is_agent = True

    def __init__(self, agent: Agent):
        self.agent = agent
        self.agent_id = agent.pk


def _has_open_blockers(task: Task) -> bool:
    return TaskDependency.objects.filter(blocked=task).exclude(blocker__status=TaskStatus.DONE).exists()


def _claimed(agent: Agent, claim_id: str) -> Task | None:
    return Task.objects.filter(business_id=agent.business_id, assignee=agent, claim_id=claim_id).first()


def _dependent_ids(task: Task) -> list[int]:
    return list(TaskDependency.objects.filter(blocker=task).values_list("blocked_id", flat=True))


def _set_blockers(task: Task, blocker_ids: list[int], actor) -> None:
    """Replace the task's ``blocked_by`` set, refusing other businesses' tasks and cycles."""
    # NO KEY: serialises graph edits without blocking inserts that reference the business.
    Business.objects.select_for_update(no_key=True).filter(pk=task.business_id).first()
    wanted = {int(i) for i in blocker_ids}
    if task.pk in wanted:
        raise DomainError(
            "dependency_cycle", "A task cannot block itself.", fields={"blocked_by": ["Cycle."]}
        )
    found = set(Task.objects.filter(business_id=task.business_id, pk__in=wanted).values_list("pk", flat=True))
    if found != wanted:
        raise _invalid("blocked_by", f"No such tasks in this business: {sorted(wanted - found)}.")
    blocks = defaultdict(set)  # blocker -> the tasks it blocks, across the business
    for blocker, blocked in (
        TaskDependency.objects.filter(blocked__business_id=task.business_id)
        .exclude(blocked=task)
        .values_list("blocker_id", "blocked_id")
    ):
        blocks[blocker].add(blocked)
    downstream, frontier = set(), [task.pk]
    while frontier:  # everything this task (transitively) blocks
        for nxt in blocks[frontier.pop()] - downstream:
            downstream.add(nxt)
            frontier.append(nxt)
    loop = sorted(wanted & downstream)
    if loop:
        raise DomainError(
            "dependency_cycle",
            f"Task {loop[0]} already waits on this task: the dependency would close a cycle.",
            fields={"blocked_by": [f"Task {loop[0]} depends on this task."]},
            tasks=loop,
        )
    current = set(TaskDependency.objects.filter(blocked=task).values_list("blocker_id", flat=True))
    TaskDependency.objects.filter(blocked=task, blocker_id__in=current - wanted).delete()
    TaskDependency.objects.bulk_create(
        [TaskDependency(blocker_id=b, blocked=task) for b in sorted(wanted - current)]
    )
    if wanted != current:
        _activity(task, actor, "dependencies changed", blocked_by=sorted(wanted))
    if task.status == TaskStatus.BLOCKED and wanted != current and not _has_open_blockers(task):
        task.status = TaskStatus.ASSIGNED if task.assignee_id else TaskStatus.INBOX


def _unblock_dependents(task: Task, actor, handoff_to: Agent | None) -> None:
    for dependent in (
        Task.objects.select_for_update(of=("self",), no_key=True)
        .filter(pk__in=_dependent_ids(task))
        .select_related("business")
    ):
        _maybe_ready(dependent, actor, handoff_to, finished=task)


def _maybe_ready(task: Task, actor, handoff_to: Agent | None, finished: Task | None = None) -> None:
    if task.status not in (TaskStatus.BLOCKED, *WAITING) or _has_open_blockers(task):
        return
    if handoff_to is not None and task.assignee_id is None and handoff_to.business_id == task.business_id:
        task.assignee = handoff_to
    was = task.status
    task.status = TaskStatus.ASSIGNED if task.assignee_id else TaskStatus.INBOX
    task.save(update_fields=["status", "assignee", "updated_at"])
    _activity(task, actor, f"ready ({was} → {task.status})", status=task.status)
    _event(task, "task.ready", f"Task {task.title} is ready", actor, previous=was)
    if task.assignee_id and finished is not None:
        # The automatic hand-off: the next agent is told its task is ready.
        _event(
            task,
            "task.handed_off",
            f"Task {finished.title} done: {task.title} handed to agent {task.assignee_id}",
            actor,
            from_task=finished.pk,
            from_agent=finished.assignee_id,
            to_agent=task.assignee_id,
        )


def _reblock_dependents(task: Task, actor) -> None:
    """A done task was reopened: dependents not yet started wait for it again."""
    for dependent in Task.objects.select_for_update().filter(pk__in=_dependent_ids(task), status__in=WAITING):
        dependent.status = TaskStatus.BLOCKED
        dependent.save(update_fields=["status", "updated_at"])
        _activity(dependent, actor, f"blocked again: task {task.pk} was reopened")


@transaction.atomic
def claim_next(*, agent: Agent, claim_id: str | None = None) -> Task | None:
    """Give ``agent`` the most urgent ready task its capabilities fit (unassigned or assigned to
    it), now ``in_progress``; None when there is none. Two agents never get the same task.
    With a ``claim_id`` the claim is idempotent: a retry answers the task the first attempt took.
    Refuses with 423 ``emergency_stop`` while a stop covers the business."""
    if claim_id and (taken := _claimed(agent, claim_id)) is not None:
        return taken
    if emergency_stop_active(agent.business_id):
        raise DomainError("emergency_stop", "The emergency stop is engaged: no new work starts.")
    capabilities = [c for c in (agent.capabilities or []) if isinstance(c, str)]
    candidates = (
        Task.objects.ready()
        .filter(business_id=agent.business_id)
        .filter(Q(assignee__isnull=True) | Q(assignee=agent))
        .order_by("-priority", "id")
    )
    if connection.vendor == "postgresql":
        # SKIP LOCKED: a task another agent is claiming right now is passed over, not waited for.
        task = (
            candidates.filter(required_capabilities__contained_by=capabilities)
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
    else:
        # SQLite writes one transaction at a time (IMMEDIATE), so scanning here is already exclusive.
        have = set(capabilities)
        task = next((t for t in candidates.iterator() if set(t.required_capabilities or []) <= have), None)
    if task is None:
        return None
    task.status = TaskStatus.IN_PROGRESS
    task.assignee = agent
    task.claimed_at = timezone.now()
    task.claim_id = claim_id or None
    try:
        with transaction.atomic():
            task.save(update_fields=["status", "assignee", "claimed_at", "updated_at", "claim_id"])
    except IntegrityError:
        return _claimed(agent, claim_id)  # the same claim raced itself; the first attempt won
    actor = f"agent:{agent.pk}"
    TaskComment.objects.create(
        task=task, kind=TaskComment.Kind.ACTIVITY, author=actor, agent=agent, body="claimed"
    )
    _event(task, "task.claimed", f"Agent {agent.name} claimed {task.title}", actor)
    return task
