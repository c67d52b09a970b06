"""Reads of the task board, always scoped to what the caller may see (a stranger's object is a 404)."""

from django.db.models import Count, Q, QuerySet

from board.models import Epic, Task, TaskStatus
from governance.access import filter_by_business, is_agent, require_role, visible_businesses
from governance.roles import Role
from mission_control.errors import DomainError


def _visible(qs: QuerySet, user) -> QuerySet:
    return qs.filter(business__in=visible_businesses(user))


def _get(qs: QuerySet, *, user, pk: int, role: str):
    obj = _visible(qs, user).filter(pk=pk).first()
    if obj is None:
        raise DomainError("not_found", "Not found.")
    if role != Role.VIEWER or not is_agent(user):
        require_role(user, obj.business_id, role)  # 403 for a member below the role, or an agent key
    return obj


def epics(*, user, business: str | None = None, status: str | None = None) -> QuerySet[Epic]:
    qs = filter_by_business(_visible(Epic.objects.all(), user), user, business)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("business").annotate(
        task_count=Count("tasks"), done_count=Count("tasks", filter=Q(tasks__status=TaskStatus.DONE))
    )


def get_epic(*, user, pk: int, role: str = Role.VIEWER) -> Epic:
    return _get(epics(user=user), user=user, pk=pk, role=role)


def _with_links(qs: QuerySet[Task]) -> QuerySet[Task]:
    return (
        qs.select_related("business")
        .prefetch_related("blocked_by", "blocks", "subtasks")
        .with_open_blockers()
    )


def tasks(*, user, business: str | None = None, **filters) -> QuerySet[Task]:
    qs = filter_by_business(_visible(Task.objects.all(), user), user, business)
    ready = filters.pop("ready", None)
    qs = qs.filter(**{k: v for k, v in filters.items() if v is not None})
    if ready is not None:
        ready_ids = Task.objects.ready().values("pk")
        qs = qs.filter(pk__in=ready_ids) if ready else qs.exclude(pk__in=ready_ids)
    return _with_links(qs)


def get_task(*, user, pk: int, role: str = Role.VIEWER) -> Task:
    return _get(_with_links(Task.objects.all()), user=user, pk=pk, role=role)


def get_task_for_agent(*, agent, pk: int) -> Task:
    task = _with_links(Task.objects.filter(business_id=agent.business_id)).filter(pk=pk).first()
    if task is None:
        raise DomainError("not_found", "Not found.")
    return task
