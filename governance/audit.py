"""The audit log: one append-only row per governance change or control action."""

from governance.models import AuditEntry, Business
from mission_control.logging import current_context


def actor_name(actor) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    if getattr(actor, "is_agent", False):
        return f"agent:{actor.agent_id}"
    return actor.get_username()


def record(
    *,
    actor,
    action: str,
    business: Business | None = None,
    target_type: str = "",
    target_id=None,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditEntry:
    """Record one audited action inside the caller's transaction (so it exists iff the change does)."""
    return AuditEntry.objects.create(
        actor=actor_name(actor)[:150],
        action=action,
        business=business,
        target_type=target_type,
        target_id="" if target_id is None else str(target_id),
        before=before,
        after=after,
        reason=reason,
        # The request's client (mission_control.client_address), bound to the log context.
        client_address=current_context().get("client"),
    )
