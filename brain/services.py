"""The brain's writes: :func:`write_document`, :func:`update_document` (one transaction each, an
event each). Documents are scoped to a business (shared) or to one agent of it (its own memory),
versioned on every change and tagged. Reads are in :mod:`brain.selectors`.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import Agent
from brain.models import BrainDocument, BrainVersion
from governance.audit import actor_name
from governance.models import Business
from mission_control.errors import DomainError
from mission_control.events import publish

MAX_TAGS = 30


def _clean_tags(tags) -> list[str]:
    cleaned = list(dict.fromkeys(t.strip() for t in tags or [] if t and t.strip()))
    if len(cleaned) > MAX_TAGS:
        raise DomainError(
            "validation_error", f"tags: at most {MAX_TAGS}.", fields={"tags": [f"At most {MAX_TAGS}."]}
        )
    return cleaned


def _key_taken(key: str) -> DomainError:
    return DomainError(
        "key_taken",
        f"A document with key '{key}' already exists in this scope.",
        fields={"key": ["Taken."]},
    )


def _announce(document: BrainDocument, kind: str, actor) -> None:
    publish(
        kind=kind,
        business=document.business,
        agent_id=document.agent_id,
        actor=actor_name(actor),
        message=f"Brain document {document.key} v{document.version}",
        data={"document": document.pk, "version": document.version, "key": document.key},
    )


@transaction.atomic
def write_document(
    *,
    business: Business,
    key: str,
    title: str,
    body: str = "",
    tags=None,
    agent: Agent | None = None,
    actor=None,
) -> BrainDocument:
    """Create a document (version 1). A key already used in the same scope is a 409."""
    if agent is not None and agent.business_id != business.pk:
        raise DomainError(
            "validation_error",
            "agent: not in this business.",
            fields={"agent": ["Not in this business."]},
        )
    now = timezone.now()
    document = BrainDocument(
        business=business,
        agent=agent,
        key=key.strip(),
        title=title,
        body=body,
        tags=_clean_tags(tags),
        created_by=actor_name(actor),
        updated_by=actor_name(actor),
        created_at=now,
        updated_at=now,
    )
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:
        raise _key_taken(document.key) from None
    BrainVersion.objects.create(
        document=document,
        number=1,
        title=title,
        body=body,
        tags=document.tags,
        author=actor_name(actor),
        created_at=now,
    )
    _announce(document, "brain.document_created", actor)
    return document


@transaction.atomic
def update_document(
    *, document: BrainDocument, actor=None, expected_version: int | None = None, **changes
) -> BrainDocument:
    """Change title, body or tags: a new version when anything differs. ``expected_version`` guards
    against overwriting a change the writer has not seen (409 ``version_conflict``)."""
    unknown = set(changes) - {"title", "body", "tags"}
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    locked = (
        BrainDocument.objects.select_for_update(of=("self",)).select_related("business").get(pk=document.pk)
    )
    if expected_version is not None and expected_version != locked.version:
        raise DomainError(
            "version_conflict",
            f"The document is at version {locked.version}, not {expected_version}; read it again.",
            version=locked.version,
        )
    if "tags" in changes:
        changes["tags"] = _clean_tags(changes["tags"])
    changed = [name for name, value in changes.items() if getattr(locked, name) != value]
    if not changed:
        return locked
    for name in changed:
        setattr(locked, name, changes[name])
    locked.version += 1
    locked.updated_by = actor_name(actor)
    locked.updated_at = timezone.now()
    locked.save(update_fields=[*changed, "version", "updated_by", "updated_at"])
    BrainVersion.objects.create(
        document=locked,
        number=locked.version,
        title=locked.title,
        body=locked.body,
        tags=locked.tags,
        author=actor_name(actor),
        created_at=locked.updated_at,
    )
    _announce(locked, "brain.document_updated", actor)
    return locked
