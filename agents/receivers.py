"""Receivers of governance's emergency stop signals and of key changes (connected in ``AgentsConfig.ready``)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from agents import emergency
from agents.auth import forget_key
from agents.models import Agent, AgentCommand, AgentKey
from governance.signals import emergency_stop_engaged, emergency_stop_released
from mission_control import control_versions
from mission_control.ws_security import notify_access_changed


@receiver(emergency_stop_engaged, dispatch_uid="agents.hold_for_emergency_stop")
def stop_agents_in_scope(sender, stop=None, business_id=None, **kwargs):
    emergency.hold_for_emergency_stop(business_id=business_id, reason=getattr(stop, "reason", "") or "")


@receiver(emergency_stop_released, dispatch_uid="agents.release_emergency_hold")
def restart_held_agents(sender, stop=None, business_id=None, **kwargs):
    emergency.release_emergency_hold(business_id=business_id)


@receiver([post_save, post_delete], sender=AgentKey, dispatch_uid="agents.key_access")
def recheck_the_agents_sockets(sender, instance, **kwargs):
    """An agent's open WebSockets re-check when one of its keys changes (a revocation closes them)."""
    notify_access_changed(agent_id=instance.agent_id)
    if kwargs.get("signal") is post_delete or instance.revoked_at is not None:
        forget_key(instance.key_hash)
        control_versions.bump(control_versions.agent_scope(instance.agent_id))


@receiver([post_save, post_delete], sender=Agent, dispatch_uid="agents.agent_versions")
@receiver([post_save, post_delete], sender=AgentCommand, dispatch_uid="agents.command_versions")
def heartbeats_answer_the_change(sender, instance, **kwargs):
    """Desired state, scale, timeout and pending commands: heartbeats answer them from a cache
    checked against the agent's counter (``mission_control.control_versions``)."""
    agent_id = instance.pk if sender is Agent else instance.agent_id
    control_versions.bump(control_versions.agent_scope(agent_id))


@receiver(post_delete, sender=Agent, dispatch_uid="agents.agent_access")
def recheck_after_an_agent_is_deleted(sender, instance, **kwargs):
    notify_access_changed(agent_id=instance.pk)
