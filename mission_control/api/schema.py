"""OpenAPI descriptions of the three ways to authenticate (registered on import by apps.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class OperatorTokenScheme(OpenApiAuthenticationExtension):
    target_class = "governance.auth.OperatorTokenAuthentication"
    name = "operatorToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "mct_…",
            "description": "An operator token from POST /api/v1/auth/token.",
        }


class AgentKeyScheme(OpenApiAuthenticationExtension):
    target_class = "agents.auth.AgentKeyAuthentication"
    name = "agentKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "mca_…",
            "description": "An agent key from POST /api/v1/agents/{id}/keys.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "mission_control.api.authentication.CsrfSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid", "description": "The pages' session."}


class HeartbeatKeyScheme(OpenApiAuthenticationExtension):
    """The heartbeat's own front door (``agents.heartbeat_gate``) takes the same agent keys: it asks
    for ``agentKey`` and defines no scheme of its own."""

    target_class = "agents.heartbeat_gate.HeartbeatKeyAuthentication"
    name = []  # nothing to register: agentKey is AgentKeyScheme's

    def get_security_requirement(self, auto_schema):
        return {AgentKeyScheme.name: []}

    def get_security_definition(self, auto_schema):
        return []


class ScrapeTokenScheme(OpenApiAuthenticationExtension):
    target_class = "telemetry.api.metrics.ScrapeTokenAuthentication"
    name = "scrapeToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "mcs_…",
            "description": "The MC_METRICS_TOKEN Prometheus scrapes /metrics with.",
        }
