"""The brain: agent memory and knowledge, versioned documents (services in brain/services.py, reads in
brain/selectors.py, API in brain/api/).

The tables keep the names they had when the brain lived in the ``agents`` app (``db_table``): the
move changed Django's state, not the rows, and the full-text index and the append-only trigger stay
on the tables they were made for (agents/migrations/0003_brain.py, brain/migrations/0001_initial.py).
"""

from django.db import connection, models
from django.db.models.expressions import RawSQL
from django.utils import timezone

from agents.models import Agent
from governance.models import Business
from mission_control.models import AppendOnlyModel


class BrainDocumentQuerySet(models.QuerySet):
    def with_tag(self, tag: str):
        if connection.vendor == "postgresql":
            return self.filter(tags__contains=[tag])
        contains = RawSQL(
            "EXISTS (SELECT 1 FROM json_each(agents_braindocument.tags) WHERE value = %s)",
            [tag],
            output_field=models.BooleanField(),
        )
        return self.filter(contains)


class BrainDocument(models.Model):
    """A document agents and operators write: scoped to a business, or to one agent of it (its
    private memory). ``key`` names it within its scope; every change is kept as a ``BrainVersion``."""

    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="brain_documents")
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.PROTECT, related_name="brain_documents"
    )
    key = models.CharField(max_length=200, help_text="Stable name within its scope, e.g. notes/customer-42.")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.CharField(max_length=150, blank=True)
    updated_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = BrainDocumentQuerySet.as_manager()

    class Meta:
        db_table = "agents_braindocument"
        ordering = ["-updated_at", "-id"]
        constraints = [
            # Two partial constraints because NULL agent ids are distinct in a plain unique index.
            models.UniqueConstraint(
                fields=["business", "key"],
                condition=models.Q(agent__isnull=True),
                name="uniq_brain_business_key",
            ),
            models.UniqueConstraint(
                fields=["business", "agent", "key"],
                condition=models.Q(agent__isnull=False),
                name="uniq_brain_agent_key",
            ),
        ]
        indexes = [models.Index(fields=["business", "-updated_at"], name="brain_business_recent")]

    def __str__(self) -> str:
        return self.key


class BrainVersion(AppendOnlyModel):
    """One version of a document, as written. Never changed."""

    document = models.ForeignKey(BrainDocument, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    author = models.CharField(max_length=150, help_text="username or agent:<id>")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "agents_brainversion"
        ordering = ["document_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["document", "number"], name="uniq_brain_version")]

    def __str__(self) -> str:
        return f"{self.document_id} v{self.number}"
