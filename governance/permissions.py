"""DRF permission classes over the role model (``governance.access`` holds the rules).

- ``PeopleOnly``: operator tokens and sessions; agent keys get 403.
- ``AgentsOnly``: agent keys only (the agent side of the API).
- ``role_required("operator")``: object permission on anything with a ``business_id``; a stranger
  to that business gets 404, a member below the role 403. Read-only methods need ``viewer``.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from governance.access import is_agent, require_role
from governance.roles import Role


class PeopleOnly(BasePermission):
    message = "Agent keys cannot use this endpoint."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and not is_agent(request.user))


class AgentsOnly(BasePermission):
    message = "This endpoint takes an agent key."

    def has_permission(self, request, view) -> bool:
        return is_agent(request.user)


def role_required(role: str) -> type[BasePermission]:
    class RoleRequired(PeopleOnly):
        def has_object_permission(self, request, view, obj) -> bool:
            needed = Role.VIEWER if request.method in SAFE_METHODS else role
            require_role(request.user, obj.business_id, needed)  # raises 404 / 403
            return True

    RoleRequired.__name__ = f"Requires{role.capitalize()}"
    return RoleRequired
