import pytest
import yaml
from django.core.management import call_command


@pytest.mark.django_db
def test_the_openapi_schema_validates_and_documents_the_contract(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))  # raises on a warning too
    schema = yaml.safe_load(out.read_text())
    for path in (
        "/api/v1/health",
        "/api/v1/auth/token",
        "/api/v1/agent/heartbeat",
        "/api/v1/executions/",
        "/api/v1/emergency-stop",
        "/api/v1/dashboard/summary",
    ):
        assert any(p.rstrip("/") == path.rstrip("/") for p in schema["paths"]), path
    assert {"operatorToken", "agentKey", "session", "scrapeToken"} <= set(
        schema["components"]["securitySchemes"]
    )
