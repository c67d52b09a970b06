"""The fast, read-only side of the controls: asked on every heartbeat and every start."""

from django.db.models import F

from governance.budgets import exhausted_budget_holders
from governance.models import EmergencyStop


def emergency_stop_active(business_id: int | None) -> bool:
    """Is work in this business stopped (by its own stop or the global one)? ``None``: global only."""
    return EmergencyStop.objects.active().covering(business_id).exists()


def active_stop(business_id: int | None) -> EmergencyStop | None:
    """The engaged stop covering a business, the global one first."""
    return (
        EmergencyStop.objects.active()
        .covering(business_id)
        .select_related("business")
        .order_by(F("business_id").asc(nulls_first=True), "-id")
        .first()
    )


def business_flags(business_id: int) -> tuple[bool, frozenset[int | None]]:
    """What a heartbeat answer says about governance, for every agent of a business at once (two
    queries): its emergency stop, and whom its exhausted budgets bind (``exhausted_budget_holders``)."""
    return emergency_stop_active(business_id), exhausted_budget_holders(business_id=business_id)


def agent_flags(flags: tuple[bool, frozenset[int | None]], agent_id: int) -> dict:
    """One agent's ``emergency_stop`` and ``budget_exhausted`` from its business's flags."""
    stopped, holders = flags
    return {"emergency_stop": stopped, "budget_exhausted": None in holders or agent_id in holders}


def heartbeat_flags(*, business_id: int, agent_id: int) -> dict:
    """What a heartbeat answer tells the agent about governance, in two queries."""
    return agent_flags(business_flags(business_id), agent_id)
