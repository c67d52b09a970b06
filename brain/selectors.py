"""The brain's reads, scoped to the caller. People read their businesses' documents (viewer) and
write them (operator); an agent key reads and writes its business's shared documents and its own,
never another agent's. Full-text search over title and body.
"""

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from brain.models import BrainDocument
from governance.access import is_agent, require_role, visible_businesses
from governance.roles import Role
from mission_control.errors import DomainError

# Must match the expression of the brain_fulltext index (agents/migrations/0003_brain.py,
# where the table was made; it keeps that name).
DOCUMENT = "to_tsvector('english'::regconfig, agents_braindocument.title || ' ' || agents_braindocument.body)"


def visible_documents(user) -> QuerySet[BrainDocument]:
    """People: their businesses' documents. An agent: its business's shared ones and its own."""
    if is_agent(user):
        return BrainDocument.objects.filter(business_id=user.business_id).filter(
            Q(agent__isnull=True) | Q(agent_id=user.agent_id)
        )
    if getattr(user, "is_superuser", False):
        return BrainDocument.objects.all()
    return BrainDocument.objects.filter(business__in=visible_businesses(user))


def search(qs: QuerySet[BrainDocument], q: str) -> QuerySet[BrainDocument]:
    """Full text over title and body (PostgreSQL, GIN-indexed); a case-insensitive LIKE elsewhere."""
    q = q.strip()
    if not q:
        return qs
    if connection.vendor == "postgresql":
        matches = RawSQL(f"{DOCUMENT} @@ websearch_to_tsquery('english'::regconfig, %s)", [q], BooleanField())  # noqa: S611
        return qs.filter(matches)
    return qs.filter(Q(title__icontains=q) | Q(body__icontains=q) | Q(key__icontains=q))


def get_document(*, user, pk: int, write: bool = False) -> BrainDocument:
    """A document the caller may read (404 otherwise); ``write``: and change (403 below operator)."""
    document = visible_documents(user).select_related("business", "agent").filter(pk=pk).first()
    if document is None:
        raise DomainError("not_found", "Not found.")
    if write and not is_agent(user):
        require_role(user, document.business_id, Role.OPERATOR)
    return document
