from django.conf import settings
from django.db import models
from django.utils import timezone as dj_timezone

from governance.roles import Role
from mission_control.models import AppendOnlyModel


class Business(models.Model):
    """A tenant: every agent, execution, job and event belongs to exactly one."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(
        max_length=64, default="UTC", help_text="IANA zone; budget windows follow it."
    )
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "businesses"

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "business"], name="uniq_membership")]
        ordering = ["business__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.business} as {self.role}"


class OperatorTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class OperatorToken(models.Model):
    """An API token for a person (or a script acting for one). Stored only as a hash."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, blank=True)
    prefix = models.CharField(max_length=20)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = OperatorTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class AuditEntry(AppendOnlyModel):
    """Who changed what, when, from what to what: every governance change and control action."""

    ts = models.DateTimeField(default=dj_timezone.now, db_index=True)
    actor = models.CharField(max_length=150, help_text="username, agent:<id> or system")
    action = models.CharField(
        max_length=64, help_text="e.g. agent.stop, budget.update, emergency_stop.engage"
    )
    business = models.ForeignKey(Business, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["business", "-id"], name="audit_business_id")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.ts:%Y-%m-%d %H:%M} {self.actor} {self.action}"
