"""Governance actions: businesses, memberships, operator tokens, budgets. One transaction each."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance import audit
from governance.audit import actor_name
from governance.models import BUDGET_EXISTS, Budget, Business, Membership, OperatorToken
from governance.roles import Role
from mission_control.errors import DomainError
from mission_control.events import publish
from mission_control.secrets import issue_secret
from mission_control.ws_security import notify_access_changed


@transaction.atomic
def create_business(*, name: str, slug: str, owner, timezone_name: str = "UTC") -> Business:
    """Create a business; its creator becomes its owner. A taken slug is a 409."""
    if Business.objects.filter(slug=slug).exists():
        raise DomainError("slug_taken", f"A business with slug '{slug}' already exists.")
    try:
        with transaction.atomic():
            business = Business.objects.create(name=name, slug=slug, timezone=timezone_name)
    except IntegrityError:
        raise DomainError("slug_taken", f"A business with slug '{slug}' already exists.") from None
    Membership.objects.create(user=owner, business=business, role=Role.OWNER)
    publish(
        kind="business.created",
        business=business,
        actor=actor_name(owner),
        message=f"Business {name} created",
    )
    return business


@transaction.atomic
def update_business(*, business: Business, actor, **fields) -> Business:
    """Rename a business or change its time zone (its slug is its address: it stays). Audited."""
    business = Business.objects.select_for_update(no_key=True).get(pk=business.pk)
    before = {name: getattr(business, name) for name in fields}
    for name, value in fields.items():
        setattr(business, name, value)
    business.save(update_fields=list(fields))
    if fields and before != fields:
        audit.record(
            actor=actor,
            action="business.update",
            business=business,
            target_type="business",
            target_id=business.pk,
            before=before,
            after=dict(fields),
        )
    return business


@transaction.atomic
def set_member(*, business: Business, username: str, role: str, actor) -> Membership:
    """Add a user to a business or change their role. The last owner cannot be demoted."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise DomainError(
            "unknown_user", f"No active user named '{username}'.", fields={"username": ["Unknown user."]}
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
        Membership.objects.select_for_update(of=("self",))
        .filter(business=business, user__username=username)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise DomainError("not_found", f"'{username}' is not a member of this business.")
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
        raise DomainError("last_owner", "A business must keep at least one owner.")


def issue_operator_token(*, user, name: str = "") -> tuple[OperatorToken, str]:
    """Create an API token for ``user``; returns the row and the raw token (shown once)."""
    secret = issue_secret("mct")
    token = OperatorToken.objects.create(user=user, name=name, prefix=secret.prefix, key_hash=secret.digest)
    return token, secret.raw


def revoke_operator_token(*, token: OperatorToken) -> None:
    """Revoke a token at once: the next request with it is a 401 and its open sockets close (4401)."""
    OperatorToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    notify_access_changed(user_id=token.user_id)


# --- Budgets ---------------------------------------------------------------------------------------

BUDGET_FIELDS = ["agent_id", "model", "period", "limit_usd", "soft_limit_pct", "enabled"]


def budget_snapshot(budget: Budget) -> dict:
    data = {name: getattr(budget, name) for name in BUDGET_FIELDS}
    data["limit_usd"] = f"{Decimal(budget.limit_usd):.6f}"
    return data


def record_budget_change(
    *, budget: Budget, actor, action: str, before: dict | None, after: dict | None
) -> None:
    """Audit and publish a budget change (inside the service that made it)."""
    audit.record(
        actor=actor,
        action=action,
        business=budget.business,
        target_type="budget",
        target_id=budget.pk,
        before=before,
        after=after,
    )
    publish(
        kind="budget.changed",
        business=budget.business,
        agent_id=budget.agent_id,
        actor=actor_name(actor),
        message=f"Budget {action.split('.')[-1]}d: {budget}",
        data={"budget": budget.pk, "before": before, "after": after},
    )


@transaction.atomic
def create_budget(
    *,
    business: Business,
    actor,
    period: str,
    limit_usd,
    agent_id: int | None = None,
    model: str = "",
    soft_limit_pct: int = 80,
    enabled: bool = True,
) -> Budget:
    """Create a budget; one per business/agent/model/period (a second is a 409)."""
    try:
        with transaction.atomic():
            budget = Budget.objects.create(
                business=business,
                agent_id=agent_id,
                model=model.strip(),
                period=period,
                limit_usd=limit_usd,
                soft_limit_pct=soft_limit_pct,
                enabled=enabled,
            )
    except IntegrityError:
        raise DomainError(
            "budget_exists",
            BUDGET_EXISTS,
        ) from None
    record_budget_change(
        budget=budget, actor=actor, action="budget.create", before=None, after=budget_snapshot(budget)
    )
    return budget


@transaction.atomic
def update_budget(*, budget: Budget, actor, **fields) -> Budget:
    """Change a budget's limit, soft threshold or enabled flag. Spend already booked stays."""
    budget = (
        Budget.objects.select_for_update(of=("self",), no_key=True)
        .select_related("business")
        .get(pk=budget.pk)
    )
    before = budget_snapshot(budget)
    for name, value in fields.items():
        setattr(budget, name, value)
    budget.updated_at = timezone.now()
    budget.save()
    after = budget_snapshot(budget)
    if after != before:
        record_budget_change(budget=budget, actor=actor, action="budget.update", before=before, after=after)
    return budget


@transaction.atomic
def delete_budget(*, budget: Budget, actor) -> None:
    before = budget_snapshot(budget)
    business, pk = budget.business, budget.pk
    budget.delete()
    budget.pk = pk
    budget.business = business
    record_budget_change(budget=budget, actor=actor, action="budget.delete", before=before, after=None)
