"""The event bus's table: an append-only history of everything that happened."""

from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete a row of an append-only table."""


class AppendOnlyModel(models.Model):
    """Rows are written once. The database refuses changes too (PostgreSQL triggers)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are append-only.")


class EventQuerySet(models.QuerySet):
    def delete(self):
        raise AppendOnlyError("Events are append-only.")

    def update(self, **kwargs):
        raise AppendOnlyError("Events are append-only.")


class Event(AppendOnlyModel):
    """One thing that happened. ``business_id`` and friends are plain ids: the bus knows no app."""

    ts = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=64)
    business_id = models.BigIntegerField(null=True, blank=True)
    business_slug = models.CharField(max_length=60, blank=True)
    agent_id = models.BigIntegerField(null=True, blank=True)
    execution_id = models.BigIntegerField(null=True, blank=True)
    actor = models.CharField(
        max_length=150, blank=True, help_text="Who caused it: a username, agent:<id> or system."
    )
    message = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["business_id", "-id"], name="event_business_id"),
            models.Index(fields=["business_id", "kind", "-id"], name="event_business_kind"),
            models.Index(fields=["agent_id", "-id"], name="event_agent"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    def as_message(self) -> dict:
        return {
            "id": self.pk,
            "ts": self.ts.isoformat(),
            "kind": self.kind,
            "business": self.business_slug or None,
            "agent": self.agent_id,
            "execution": self.execution_id,
            "actor": self.actor,
            "message": self.message,
            "data": self.data,
        }
