"""The two governance answers the agents app needs, in one place.

``governance.controls`` is the governance app's (below us in the import table, so a plain import
is allowed). Both calls go through here so that the heartbeat and lifecycle code read the same way
whichever release of governance is installed.
"""

try:
    import governance.controls as _controls
except ModuleNotFoundError as exc:  # governance without emergency stops or budgets: nothing is stopped
    if exc.name != "governance.controls":
        raise
    _controls = None


def heartbeat_flags(*, business_id: int, agent_id: int) -> dict:
    if _controls is None:
        return {"emergency_stop": False, "budget_exhausted": False}
    return _controls.heartbeat_flags(business_id=business_id, agent_id=agent_id)


def emergency_stop_active(business_id: int | None) -> bool:
    if _controls is None:
        return False
    return _controls.emergency_stop_active(business_id)
