"""``/global/settings``: governance at a glance. Budgets with their live spend, members and roles,
execution restrictions, rate limits, the emergency stop history and the audit log, with links into
the admin where each is changed.

Reads go through ``governance.selectors`` (``budgets_for``, ``live_spend``, ``audit_for``,
``businesses_with_role``): the budget and audit APIs' own, so an operator sees no audit log here
either.
"""

from django.db.models import Q

from agents.models import Agent
from console import audit_trail
from console.views.base import console_page, page
from governance.access import visible_businesses
from governance.models import EmergencyStop, ExecutionPolicy, Membership
from governance.roles import Role
from governance.selectors import audit_for, budgets_for, businesses_with_role, live_spend
from governance.throttling import default_rate

AUDIT_LIMIT = 50
STOP_LIMIT = 10


@console_page
def settings_page(request):
    scope, user = request.mc_scope, request.user
    ids = scope.ids
    budgets = list(
        budgets_for(user).filter(business_id__in=ids).order_by("business__name", "agent_id", "period")
    )
    spend = live_spend(budgets)
    agent_names = dict(Agent.objects.filter(business_id__in=ids).values_list("id", "name"))
    admin_ids = businesses_with_role(user, Role.ADMIN)
    audit_rows = []
    if admin_ids is None or admin_ids:
        entries = audit_for(user)
        if scope.current:
            entries = entries.filter(business_id=scope.current.pk)
        audit_rows = audit_trail.present(entries.order_by("-id")[:AUDIT_LIMIT])
    visible = visible_businesses(user).filter(pk__in=ids)
    context = {
        "budgets": [
            {"budget": b, "spend": spend[b.pk], "agent": agent_names.get(b.agent_id)} for b in budgets
        ],
        "memberships": list(
            Membership.objects.filter(business__in=visible)
            .select_related("business", "user")
            .order_by("business__name", "user__username")[:500]
        ),
        "policies": [
            {"policy": p, "agent": agent_names.get(p.agent_id)}
            for p in ExecutionPolicy.objects.filter(business_id__in=ids)
            .select_related("business")
            .order_by("business__name", "agent_id")
        ],
        "rates": {scope_name: default_rate(scope_name) for scope_name in ("agent", "operator", "login")},
        "stops": list(
            EmergencyStop.objects.filter(Q(business_id__in=ids) | Q(business__isnull=True))
            .select_related("business")
            .order_by("-id")[:STOP_LIMIT]
        ),
        "audit": audit_rows,
        "can_read_audit": admin_ids is None or bool(admin_ids),
        "is_staff": user.is_staff,
    }
    return page(request, "console/settings.html", context, active="settings")
