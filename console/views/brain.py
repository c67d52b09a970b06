"""``/global/brain``: agent memory and knowledge. Search, read every version, write and edit.

Reads go through ``brain.selectors`` (the brain API's own scoping and full-text search); writes post to
``/api/v1/brain/documents``, with ``expected_version`` so two people editing never overwrite each other.
"""

from agents.models import Agent
from brain import selectors
from console.views.base import console_page, page
from governance.roles import Role
from mission_control.params import id_or_none

LIST_LIMIT = 100
VERSION_LIMIT = 30


@console_page
def brain_page(request):
    scope = request.mc_scope
    q = request.GET.get("q", "").strip()[:200]
    tag = request.GET.get("tag", "").strip()[:64]
    owner = request.GET.get("scope", "")
    qs = (
        selectors.visible_documents(request.user)
        .filter(business_id__in=scope.ids)
        .select_related("business", "agent")
    )
    if tag:
        qs = qs.with_tag(tag)
    if owner == "shared":
        qs = qs.filter(agent__isnull=True)
    elif (agent_id := id_or_none(owner)) is not None:
        qs = qs.filter(agent_id=agent_id)
    documents = list(selectors.search(qs, q).order_by("-updated_at", "-id")[:LIST_LIMIT])
    chosen = id_or_none(request.GET.get("doc"))
    document = selectors.get_document(user=request.user, pk=chosen) if chosen is not None else None
    writable = [b for b in scope.businesses if b.pk in scope.ids and scope.can(b.pk, Role.OPERATOR)]
    context = {
        "documents": documents,
        "document": document,
        "versions": list(document.versions.order_by("-number")[:VERSION_LIMIT]) if document else [],
        "can_edit": bool(document) and scope.can(document.business_id, Role.OPERATOR),
        "filters": {"q": q, "tag": tag, "scope": owner},
        "agents": list(Agent.objects.for_business_ids(scope.ids).order_by("name").values_list("id", "name")),
        "writable_businesses": writable,
        "limit": LIST_LIMIT,
    }
    return page(request, "console/brain.html", context, active="brain")
