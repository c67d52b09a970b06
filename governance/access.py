"""Who may see and do what, in which business.

Every read is scoped through :func:`visible_businesses`; every action asks :func:`require_role`.
A business the caller does not belong to answers 404 (its existence is not revealed); one it
belongs to with too small a role answers 403.
"""

from django.db.models import QuerySet

from governance.models import Business, Membership
from governance.roles import Role, at_least
from mission_control.errors import DomainError
from mission_control.events import EventScope


def is_agent(user) -> bool:
    return bool(getattr(user, "is_agent", False))


def visible_businesses(user) -> QuerySet[Business]:
    if not getattr(user, "is_authenticated", False):
        return Business.objects.none()
    if is_agent(user):
        return Business.objects.filter(pk=user.business_id)
    if user.is_superuser:
        return Business.objects.all()
    return Business.objects.filter(memberships__user=user)


def role_in(user, business_id: int) -> str | None:
    """The caller's role in a business (owner for superusers), or None. Cached per user object."""
    if not getattr(user, "is_authenticated", False) or is_agent(user):
        return None
    if user.is_superuser:
        return Role.OWNER
    cache = user.__dict__.setdefault("_mc_roles", None)
    if cache is None:
        cache = dict(Membership.objects.filter(user=user).values_list("business_id", "role"))
        user.__dict__["_mc_roles"] = cache
    return cache.get(business_id)


def require_role(user, business_id: int, role: str = Role.VIEWER) -> str:
    """Raise 404 for a stranger, 403 for a member below ``role``; return the caller's role."""
    if is_agent(user):
        if user.business_id != business_id:
            raise DomainError("not_found", "Not found.")
        raise DomainError("permission_denied", "Agent keys cannot perform operator actions.")
    current = role_in(user, business_id)
    if current is None:
        raise DomainError("not_found", "Not found.")
    if not at_least(current, role):
        raise DomainError("permission_denied", f"This needs the {role} role; you are {current}.")
    return current


def get_business(user, slug: str, role: str = Role.VIEWER) -> Business:
    business = Business.objects.filter(slug=slug).first()
    if business is None:
        raise DomainError("not_found", "Not found.")
    require_role(user, business.pk, role)
    return business


def event_scope(user, business_slug: str | None) -> EventScope:
    """The events the caller may read (see :class:`EventScope`). A member reads their businesses'
    events and global ones; a superuser everything; an agent key only its own events and the
    emergency stops it must obey, as ``/executions/`` shows it only its own work."""
    agent_id = user.agent_id if is_agent(user) else None
    if business_slug:
        business = visible_businesses(user).filter(slug=business_slug).first()
        if business is None:
            raise LookupError(business_slug)
        return EventScope(business_ids=(business.pk,), include_global=False, agent_id=agent_id)
    if agent_id is None and getattr(user, "is_superuser", False):
        return EventScope(business_ids=None)
    return EventScope(
        business_ids=tuple(visible_businesses(user).values_list("pk", flat=True)), agent_id=agent_id
    )


def filter_by_business(qs: QuerySet, user, slug: str | None, field: str = "business") -> QuerySet:
    """Narrow an already-scoped list to one business by slug. A business the caller cannot see
    answers 404, as its objects do, rather than an empty list that would differ from a typo."""
    if not slug:
        return qs
    business_id = visible_businesses(user).filter(slug=slug).values_list("pk", flat=True).first()
    if business_id is None:
        raise DomainError("not_found", "Not found.")
    return qs.filter(**{f"{field}_id": business_id})
