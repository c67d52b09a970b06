"""Governance actions: businesses, memberships, operator tokens. One transaction each."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance import audit
from governance.audit import actor_name
from governance.models import Business, Membership, OperatorToken
from governance.roles import Role
from mission_control.api.errors import APIError
from mission_control.events import publish
from mission_control.secrets import issue_secret


@transaction.atomic
def create_business(*, name: str, slug: str, owner, timezone_name: str = "UTC") -> Business:
    """Create a business; its creator becomes its owner. A taken slug is a 409."""
    if Business.objects.filter(slug=slug).exists():
        raise APIError(409, "slug_taken", f"A business with slug '{slug}' already exists.")
    try:
        with transaction.atomic():
            business = Business.objects.create(name=name, slug=slug, timezone=timezone_name)
    except IntegrityError:
        raise APIError(409, "slug_taken", f"A business with slug '{slug}' already exists.") from None
    Membership.objects.create(user=owner, business=business, role=Role.OWNER)
    publish(
        kind="business.created",
        business=business,
        actor=actor_name(owner),
        message=f"Business {name} created",
    )
    return business


@transaction.atomic
def set_member(*, business: Business, username: str, role: str, actor) -> Membership:
    """Add a user to a business or change their role. The last owner cannot be demoted."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise APIError(
            400, "unknown_user", f"No active user named '{username}'.", fields={"username": ["Unknown user."]}
        )
    membership = Membership.objects.select_for_update().filter(business=business, user=user).first()
    before = membership.role if membership else None
    if membership and before == Role.OWNER and role != Role.OWNER:
        _ensure_another_owner(business, user)
    if membership:
        membership.role = role
        membership.save(update_fields=["role"])
    else:
        membership = Membership.objects.create(business=business, user=user, role=role)
    audit.record(
        actor=actor,
        action="membership.set",
        business=business,
        target_type="user",
        target_id=username,
        before={"role": before} if before else None,
        after={"role": role},
    )
    publish(
        kind="membership.changed",
        business=business,
        actor=actor_name(actor),
        message=f"{username} is now {role}",
        data={"username": username, "before": before, "after": role},
    )
    return membership


@transaction.atomic
def remove_member(*, business: Business, username: str, actor) -> None:
    membership = (
        Membership.objects.select_for_update()
        .filter(business=business, user__username=username)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise APIError(404, "not_found", f"'{username}' is not a member of this business.")
    if membership.role == Role.OWNER:
        _ensure_another_owner(business, membership.user)
    membership.delete()
    audit.record(
        actor=actor,
        action="membership.remove",
        business=business,
        target_type="user",
        target_id=username,
        before={"role": membership.role},
    )
    publish(
        kind="membership.changed",
        business=business,
        actor=actor_name(actor),
        message=f"{username} removed",
        data={"username": username, "before": membership.role, "after": None},
    )


def _ensure_another_owner(business: Business, user) -> None:
    others = (
        Membership.objects.select_for_update().filter(business=business, role=Role.OWNER).exclude(user=user)
    )
    if not others.exists():
        raise APIError(409, "last_owner", "A business must keep at least one owner.")


def issue_operator_token(*, user, name: str = "") -> tuple[OperatorToken, str]:
    """Create an API token for ``user``; returns the row and the raw token (shown once)."""
    secret = issue_secret("mct")
    token = OperatorToken.objects.create(user=user, name=name, prefix=secret.prefix, key_hash=secret.digest)
    return token, secret.raw


def revoke_operator_token(*, token: OperatorToken) -> None:
    OperatorToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
