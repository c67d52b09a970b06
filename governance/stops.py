"""The emergency stop: engage (global or one business) and release. One transaction each.

Engaging records the stop (from then on ``check_can_start`` answers 423 and heartbeats say
``emergency_stop: true``), audits and publishes it, and sends ``emergency_stop_engaged`` so the apps
above act: executions abort running work, agents get stop commands, cron holds. Releasing sends
``emergency_stop_released`` and the receivers restore what they held. The stop row is kept forever.
"""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from governance import audit
from governance.audit import actor_name
from governance.models import Business, EmergencyStop
from governance.signals import emergency_stop_engaged, emergency_stop_released
from mission_control.errors import DomainError
from mission_control.events import publish

logger = logging.getLogger(__name__)


def _scope_label(business: Business | None) -> str:
    return "global" if business is None else business.slug


def _active_for(business: Business | None):
    stops = EmergencyStop.objects.active().select_for_update()
    return stops.filter(business__isnull=True) if business is None else stops.filter(business=business)


def _notify(signal, stop: EmergencyStop) -> None:
    """Tell the receivers, inside this transaction (their work commits with the stop).

    A receiver that fails is logged, not fatal: the safety button must engage even when one of
    the apps reacting to it is broken (new work is refused by the stop row itself).
    """
    with transaction.atomic():
        results = signal.send_robust(sender=EmergencyStop, stop=stop, business_id=stop.business_id)
    for receiver, result in results:
        if isinstance(result, Exception):
            logger.error(
                "emergency stop receiver %r failed",
                receiver,
                exc_info=(type(result), result, result.__traceback__),
            )


def as_record(stop: EmergencyStop) -> dict:
    return {
        "id": stop.pk,
        "scope": _scope_label(stop.business),
        "reason": stop.reason,
        "engaged_by": stop.engaged_by,
        "engaged_at": stop.engaged_at.isoformat(),
        "released_by": stop.released_by or None,
        "released_at": stop.released_at.isoformat() if stop.released_at else None,
    }


@transaction.atomic
def engage_emergency_stop(*, business: Business | None, reason: str, actor) -> tuple[EmergencyStop, bool]:
    """Engage the stop for ``business`` (None: everything). Returns ``(stop, engaged_now)``: engaging
    a scope that is already stopped returns the stop in force and changes nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            "validation_error", "reason: A reason is required.", fields={"reason": ["Required."]}
        )
    current = _active_for(business).first()
    if current is not None:
        return current, False
    try:
        with transaction.atomic():
            stop = EmergencyStop.objects.create(
                business=business, reason=reason, engaged_by=actor_name(actor)[:150]
            )
    except IntegrityError:  # engaged concurrently by someone else
        return _active_for(business).get(), False
    audit.record(
        actor=actor,
        action="emergency_stop.engage",
        business=business,
        target_type="emergency_stop",
        target_id=stop.pk,
        before={"engaged": False},
        after=as_record(stop),
        reason=reason,
    )
    scope = "everything" if business is None else business.name
    publish(
        kind="emergency_stop.engaged",
        business=business,
        actor=actor_name(actor),
        message=f"Emergency stop engaged for {scope}: {reason}",
        data={"stop": stop.pk, "scope": _scope_label(business), "reason": reason},
    )
    _notify(emergency_stop_engaged, stop)
    return stop, True


@transaction.atomic
def release_emergency_stop(*, business: Business | None, actor, reason: str = "") -> EmergencyStop:
    """Release the stop of ``business`` (None: the global one); 409 ``not_engaged`` if none is."""
    stop = _active_for(business).first()
    if stop is None:
        raise DomainError("not_engaged", "The emergency stop is not engaged for this scope.")
    stop.released_at = timezone.now()
    stop.released_by = actor_name(actor)[:150]
    stop.release_reason = (reason or "").strip()
    stop.save(update_fields=["released_at", "released_by", "release_reason"])
    audit.record(
        actor=actor,
        action="emergency_stop.release",
        business=business,
        target_type="emergency_stop",
        target_id=stop.pk,
        before={"engaged": True, "reason": stop.reason},
        after=as_record(stop),
        reason=stop.release_reason,
    )
    scope = "everything" if business is None else business.name
    publish(
        kind="emergency_stop.released",
        business=business,
        actor=actor_name(actor),
        message=f"Emergency stop released for {scope}",
        data={"stop": stop.pk, "scope": _scope_label(business), "engaged_at": stop.engaged_at.isoformat()},
    )
    _notify(emergency_stop_released, stop)
    return stop
