"""Receivers of governance's emergency stop signals (connected in ``AgentsConfig.ready``)."""

from django.dispatch import receiver

from agents import emergency
from governance.signals import emergency_stop_engaged, emergency_stop_released


@receiver(emergency_stop_engaged, dispatch_uid="agents.hold_for_emergency_stop")
def stop_agents_in_scope(sender, stop=None, business_id=None, **kwargs):
    emergency.hold_for_emergency_stop(business_id=business_id, reason=getattr(stop, "reason", "") or "")


@receiver(emergency_stop_released, dispatch_uid="agents.release_emergency_hold")
def restart_held_agents(sender, stop=None, business_id=None, **kwargs):
    emergency.release_emergency_hold(business_id=business_id)
