"""Delivering notifications (alerts, budget crossings): email through Django's mail backend, webhooks as Slack-style JSON."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from mission_control import outbound
from observability.models import Channel, DeliveryStatus, Notification

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_S = 5.0
MAX_ATTEMPTS = 5


class DeliveryFailed(Exception):
    """A notification could not be sent this time; the task retries it with backoff."""


def deliver(notification_id: int) -> str:
    """Send one notification once. Already sent: nothing to do. Raises DeliveryFailed to be retried;
    after ``MAX_ATTEMPTS`` it is marked failed and given up."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id, status=DeliveryStatus.PENDING)
            .first()
        )
        if notification is None:
            return "skipped"  # sent already, given up, or being sent by another worker
        notification.attempts += 1
        try:
            _send(notification)
        except Exception as exc:
            notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            refused = isinstance(exc, outbound.OutboundRefused) and exc.code == "url_not_allowed"
            if notification.attempts >= MAX_ATTEMPTS or refused:  # a refused target stays refused
                notification.status = DeliveryStatus.FAILED
            notification.save(update_fields=["attempts", "last_error", "status"])
            if notification.status == DeliveryStatus.FAILED:
                logger.warning("gave up on notification %s: %s", notification.pk, notification.last_error)
                return "failed"
            failure = DeliveryFailed(notification.last_error)
        else:
            notification.status, notification.sent_at, notification.last_error = (
                DeliveryStatus.SENT,
                timezone.now(),
                "",
            )
            notification.save(update_fields=["attempts", "last_error", "status", "sent_at"])
            return "sent"
    raise failure


def _send(notification: Notification) -> None:
    if notification.channel == Channel.EMAIL:
        subject = notification.text.splitlines()[0][:150]
        send_mail(
            f"[Mission Control] {subject}",
            notification.text,
            settings.DEFAULT_FROM_EMAIL,
            [notification.target],
        )
        return
    # outbound.post: public addresses only, checked after resolving (MC_OUTBOUND_ALLOW lists exceptions).
    response = outbound.post(notification.target, json={"text": notification.text}, timeout=WEBHOOK_TIMEOUT_S)
    if response.status_code >= 300:
        # The status only: the target's body is not ours to store or show.
        raise DeliveryFailed(f"webhook answered HTTP {response.status_code}")
