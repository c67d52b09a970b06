"""Alert rules and incidents: one ``alert.fired`` when a rule starts to hold for a subject (an agent,
a cron job, a budget), nothing more while it keeps holding, one ``alert.resolved`` when it stops.

The partial unique index on open alerts makes "one firing per incident" true even when two
evaluators overlap; notifications are rows delivered by a Celery task after commit.
"""

import logging
from datetime import datetime

from celery import signature
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.audit import actor_name, record
from governance.selectors import alert_recipients
from mission_control import outbound
from mission_control.errors import DomainError
from mission_control.events import publish
from observability.alert_checks import CHECKS, Breach
from observability.models import Alert, AlertRule, Channel, Notification

logger = logging.getLogger(__name__)
# Enqueued by name: ``tasks.py`` sits on top of the app and imports the services, never the reverse.
DELIVER_TASK = "observability.tasks.deliver_notification"

RULE_FIELDS = (
    "name",
    "kind",
    "agent",
    "cron_job_id",
    "threshold",
    "window_minutes",
    "min_executions",
    "email_to",
    "webhook_url",
    "enabled",
)


def _snapshot(rule: AlertRule) -> dict:
    return {
        name: (str(value) if value is not None and not isinstance(value, (bool, int)) else value)
        for name in RULE_FIELDS
        for value in [getattr(rule, "agent_id" if name == "agent" else name)]
    }


def _check_webhook(url: str) -> None:
    """A webhook must be a public address (SSRF): 400 ``url_not_allowed`` otherwise."""
    try:
        outbound.validate_url(url)
    except outbound.OutboundRefused as exc:
        raise DomainError(exc.code, f"webhook_url: {exc}", fields={"webhook_url": [str(exc)]}) from None


@transaction.atomic
def create_rule(*, business, actor=None, **fields) -> AlertRule:
    """Create an alert rule (validated by the caller's serializer); audited."""
    _check_webhook(fields.get("webhook_url", ""))
    rule = AlertRule.objects.create(business=business, created_by=actor_name(actor), **fields)
    record(
        actor=actor,
        action="alert_rule.create",
        business=business,
        target_type="alert_rule",
        target_id=rule.pk,
        after=_snapshot(rule),
    )
    return rule


@transaction.atomic
def update_rule(*, rule: AlertRule, actor=None, **changes) -> AlertRule:
    """Change a rule; an open incident of a disabled rule is resolved on the next evaluation."""
    if "webhook_url" in changes:
        _check_webhook(changes["webhook_url"])
    rule = AlertRule.objects.select_for_update().get(pk=rule.pk)
    before = _snapshot(rule)
    for name, value in changes.items():
        setattr(rule, name, value)
    rule.save()
    record(
        actor=actor,
        action="alert_rule.update",
        business=rule.business,
        target_type="alert_rule",
        target_id=rule.pk,
        before=before,
        after=_snapshot(rule),
    )
    return rule


@transaction.atomic
def delete_rule(*, rule: AlertRule, actor=None) -> None:
    """Delete a rule and its history (the events it published stay in the event log)."""
    record(
        actor=actor,
        action="alert_rule.delete",
        business=rule.business,
        target_type="alert_rule",
        target_id=rule.pk,
        before=_snapshot(rule),
    )
    rule.delete()


def evaluate(*, now: datetime | None = None) -> dict:
    """Check every rule; fire new incidents, resolve recovered ones. Returns what changed."""
    now = now or timezone.now()
    fired = resolved = 0
    for rule in AlertRule.objects.select_related("business").order_by("pk"):
        try:
            breaches = CHECKS[rule.kind](rule, now) if rule.enabled else {}
            f, r = apply(rule=rule, breaches=breaches, now=now)
        except Exception:
            # One broken rule (a bad threshold, a missing table) must not silence the others.
            logger.exception("could not evaluate alert rule %s", rule.pk)
            continue
        fired, resolved = fired + f, resolved + r
    return {"fired": fired, "resolved": resolved}


@transaction.atomic
def apply(*, rule: AlertRule, breaches: dict[str, Breach], now: datetime) -> tuple[int, int]:
    """Turn what holds now into incidents: fire the new ones, resolve those that no longer hold."""
    open_alerts = {a.subject: a for a in Alert.objects.select_for_update().filter(rule=rule).firing()}
    for alert in open_alerts.values():
        alert.rule = rule
    fired = resolved = 0
    for subject, breach in sorted(breaches.items()):
        if subject in open_alerts:
            continue  # still the same incident: no new notice
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    rule=rule,
                    business_id=rule.business_id,
                    subject=subject,
                    agent_id=breach.agent_id,
                    message=breach.message[:500],
                    value=breach.value,
                    fired_at=now,
                )
        except IntegrityError:
            continue  # another evaluator fired it a moment ago
        _announce(alert, "alert.fired", f"[FIRING] {rule.name}: {breach.message}")
        fired += 1
    for subject, alert in open_alerts.items():
        if subject in breaches:
            continue
        message = "the condition no longer holds" if rule.enabled else "the rule was disabled"
        if not Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(
            resolved_at=now, resolved_message=message
        ):
            continue
        alert.resolved_at, alert.resolved_message = now, message
        _announce(alert, "alert.resolved", f"[RESOLVED] {rule.name}: {alert.message} ({message})")
        resolved += 1
    return fired, resolved


def _announce(alert: Alert, kind: str, text: str) -> None:
    rule = alert.rule
    publish(
        kind=kind,
        business=rule.business,
        agent_id=alert.agent_id,
        actor="system",
        message=text,
        data={
            "alert": alert.pk,
            "rule": rule.pk,
            "rule_name": rule.name,
            "rule_kind": rule.kind,
            "subject": alert.subject,
            "value": None if alert.value is None else str(alert.value),
            "threshold": str(rule.threshold),
        },
    )
    text = f"{text} · {rule.business.name}"
    targets = [(Channel.EMAIL, address) for address in rule.email_recipients()]
    if rule.webhook_url:
        targets.append((Channel.WEBHOOK, rule.webhook_url))
    for channel, target in targets:
        notification = Notification.objects.create(
            alert=alert, event=kind, channel=channel, target=target, text=text
        )
        transaction.on_commit(lambda pk=notification.pk: _enqueue(pk))


def notify_budget_crossing(*, budget, kind: str, message: str) -> int:
    """Mail the business's owners and admins that a budget crossed a threshold (``kind``
    ``budget.soft_limit`` or ``budget.exceeded``): notification rows, delivered and retried by the
    notification task like alerts'. Returns how many were queued."""
    with transaction.atomic():
        rows = [
            Notification.objects.create(
                alert=None, event=kind, channel=Channel.EMAIL, target=address, text=message
            )
            for address in alert_recipients(business_id=budget.business_id)
        ]
        for row in rows:
            transaction.on_commit(lambda pk=row.pk: _enqueue(pk))
    return len(rows)


def _enqueue(notification_id: int) -> None:
    signature(DELIVER_TASK).delay(notification_id)
