"""Reading the ledger: what a caller may see, with the effective cost of each row."""

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from executions.models import CostCorrection, Execution
from governance.access import is_agent, visible_businesses
from mission_control.errors import DomainError


def visible_executions(user) -> QuerySet[Execution]:
    """An agent sees its own executions; people those of their businesses; superusers all."""
    if is_agent(user):
        return Execution.objects.filter(agent_id=user.agent_id)
    if getattr(user, "is_superuser", False):
        return Execution.objects.all()
    return Execution.objects.filter(business_id__in=visible_businesses(user).values("pk"))


def scoped_executions(user) -> QuerySet[Execution]:
    """``visible_executions`` with the caller's businesses resolved to constant ids first (one small
    query): the explorer's pages and searches plan against the statistics of those businesses. As a
    join through the membership table the planner guessed one row, and on 2 million executions sorted
    100,000 of them for a page of 50 (bench/dashboards.py)."""
    if is_agent(user) or getattr(user, "is_superuser", False):
        return visible_executions(user)
    return Execution.objects.filter(
        business_id__in=list(visible_businesses(user).values_list("pk", flat=True))
    )


def with_effective_cost(qs: QuerySet[Execution]) -> QuerySet[Execution]:
    """Annotate the latest cost correction (if any) and the cost that counts.

    Corrections live beside the rows (terminal rows never change), so readers look them up here.
    """
    latest = CostCorrection.objects.filter(execution=OuterRef("pk")).order_by("-id")
    return qs.annotate(
        corrected_cost_usd=Subquery(latest.values("cost_usd")[:1]),
        corrected_cost_source=Subquery(latest.values("cost_source")[:1]),
        effective_cost_usd=Coalesce(
            Subquery(latest.values("cost_usd")[:1]),
            "cost_usd",
            output_field=DecimalField(max_digits=18, decimal_places=8),
        ),
    )


def get_visible_execution(user, pk: int) -> Execution:
    """The execution if the caller may see it, else 404 (whether or not it exists)."""
    execution = (
        with_effective_cost(visible_executions(user))
        .select_related("business", "agent")
        .filter(pk=pk)
        .first()
    )
    if execution is None:
        raise DomainError("not_found", "Not found.")
    return execution
