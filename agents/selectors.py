"""Reads of the agents app, always scoped to what the caller may see."""

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from agents.models import Agent, AgentCommand, AgentKey
from governance.access import filter_by_business, require_role, visible_businesses
from governance.roles import Role
from mission_control.errors import DomainError


def _pending_commands():
    pending = (
        AgentCommand.objects.pending()
        .filter(agent_id=OuterRef("pk"))
        .order_by()
        .values("agent_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(pending, output_field=IntegerField()), 0)


def agent_list(
    *, user, business: str | None = None, status: str | None = None, capability: str | None = None, now=None
) -> QuerySet[Agent]:
    """Agents in the caller's businesses, filtered by business slug, effective status and
    capability. One query for the page whatever its size (business joined, pending commands
    counted in a subquery)."""
    now = now or timezone.now()
    agents = filter_by_business(Agent.objects.filter(business__in=visible_businesses(user)), user, business)
    agents = agents.with_effective_status(status, now) if status else agents.with_live_status(now)
    if capability:
        agents = agents.with_capability(capability)
    return agents.select_related("business").annotate(pending_commands=_pending_commands())


def get_agent(*, user, pk: int, role: str = Role.VIEWER) -> Agent:
    """One agent the caller may act on with ``role``: 404 outside their businesses, 403 below the role."""
    agent = (
        Agent.objects.filter(pk=pk, business__in=visible_businesses(user))
        .with_live_status(timezone.now())
        .select_related("business")
        .annotate(pending_commands=_pending_commands())
        .first()
    )
    if agent is None:
        raise DomainError("not_found", "Not found.")
    require_role(user, agent.business_id, role)
    return agent


def key_list(*, agent: Agent) -> QuerySet[AgentKey]:
    return AgentKey.objects.filter(agent=agent).select_related("created_by").order_by("-id")


def get_key(*, agent: Agent, key_id: int) -> AgentKey:
    key = AgentKey.objects.filter(agent=agent, pk=key_id).select_related("agent__business").first()
    if key is None:
        raise DomainError("not_found", "Not found.")
    return key


def command_list(*, agent: Agent, pending: bool = False) -> QuerySet[AgentCommand]:
    commands = AgentCommand.objects.filter(agent=agent)
    return (commands.pending() if pending else commands).order_by("-id")
