"""Open WebSockets re-check their caller whenever something that grants access changes, whichever
path changed it (the API, the admin, a shell): memberships, operator tokens, the user itself
(deactivated, password changed, deleted) and signing out. Connected in ``GovernanceConfig.ready``."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from governance.models import Budget, EmergencyStop, ExecutionPolicy, Membership, OperatorToken
from mission_control import control_versions
from mission_control.ws_security import notify_access_changed


@receiver([post_save, post_delete], sender=Membership, dispatch_uid="governance.membership_access")
@receiver([post_save, post_delete], sender=OperatorToken, dispatch_uid="governance.token_access")
def recheck_the_users_sockets(sender, instance, **kwargs):
    notify_access_changed(user_id=instance.user_id)


@receiver([post_save, post_delete], sender=get_user_model(), dispatch_uid="governance.user_access")
def recheck_after_a_user_change(sender, instance, **kwargs):
    notify_access_changed(user_id=instance.pk)


@receiver(user_logged_out, dispatch_uid="governance.logout_access")
def recheck_after_logout(sender, user=None, **kwargs):
    if user is not None:
        notify_access_changed(user_id=user.pk)


@receiver([post_save, post_delete], sender=EmergencyStop, dispatch_uid="governance.stop_versions")
def heartbeats_answer_the_stop(sender, instance, **kwargs):
    """Heartbeats answer ``emergency_stop`` from cached answers checked against these counters."""
    scope = control_versions.GLOBAL
    if instance.business_id:
        scope = control_versions.business_scope(instance.business_id)
    control_versions.bump(scope)


@receiver([post_save, post_delete], sender=ExecutionPolicy, dispatch_uid="governance.policy_versions")
@receiver([post_save, post_delete], sender=Budget, dispatch_uid="governance.budget_versions")
def heartbeats_answer_the_budget(sender, instance, **kwargs):
    """A budget made, changed (its limit) or removed may flip ``budget_exhausted``; a policy may
    set another request rate, which the heartbeat's gate caches."""
    control_versions.bump(control_versions.business_scope(instance.business_id))
