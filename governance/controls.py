"""The fast, read-only side of the controls: asked on every heartbeat and every start."""

from django.db.models import F

from governance.budgets import exhausted_budget
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


def heartbeat_flags(*, business_id: int, agent_id: int) -> dict:
    """What a heartbeat answer tells the agent about governance, in two queries."""
    return {
        "emergency_stop": emergency_stop_active(business_id),
        "budget_exhausted": exhausted_budget(business_id=business_id, agent_id=agent_id) is not None,
    }
