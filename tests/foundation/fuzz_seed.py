"""A small, real business for the schemathesis run: agents, work, a workflow, a cron job, a board.

Made through the API (as operators and agents do), so every kind of row the API serves exists and
low ids resolve to real objects for some generated cases.
"""

from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from agents.services import create_agent, issue_key
from governance.models import Membership
from governance.roles import Role
from governance.services import create_business, issue_operator_token


def _client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def seed() -> dict[str, str]:
    """Return the three callers' bearer credentials: ``superuser``, ``viewer``, ``agent``."""
    users = get_user_model().objects
    root = users.create_superuser("root", "root@example.com", "pw-fuzz-123")
    owner = users.create_user("olivia", "olivia@example.com", "pw-fuzz-123")
    viewer = users.create_user("victor", "victor@example.com", "pw-fuzz-123")
    acme = create_business(name="Acme", slug="acme", owner=owner)
    create_business(name="Globex", slug="globex", owner=root)
    Membership.objects.create(user=viewer, business=acme, role=Role.VIEWER)
    coder = create_agent(business=acme, name="coder", capabilities=["code"], actor=owner)
    _, agent_key = issue_key(agent=coder, name="fuzz", actor=owner)
    _, root_token = issue_operator_token(user=root, name="fuzz")
    _, viewer_token = issue_operator_token(user=viewer, name="fuzz")

    api, agent = _client(root_token), _client(agent_key)
    done = agent.post(
        "/api/v1/executions/",
        {"external_id": "seed-1", "status": "failed", "model": "gpt-4o", "input_tokens": 10, "error": "x"},
        format="json",
    ).json()
    agent.post(f"/api/v1/executions/{done['id']}/logs", [{"level": "info", "message": "hi"}], format="json")
    agent.post("/api/v1/executions/", {"external_id": "seed-2", "status": "running"}, format="json")
    api.post(f"/api/v1/agents/{coder.pk}/run", {"input": {"n": 1}}, format="json")
    steps = [{"id": "a", "agent": coder.pk}, {"id": "b", "capability": "code", "depends_on": ["a"]}]
    flow = api.post(
        "/api/v1/workflows/",
        {"business": "acme", "name": "flow", "definition": {"steps": steps}},
        format="json",
    ).json()
    api.post(f"/api/v1/workflows/{flow['id']}/runs", {"input": {}}, format="json")
    api.post(
        "/api/v1/cron-jobs/",
        {"business": "acme", "name": "nightly", "schedule": "0 3 * * *", "agent": coder.pk},
        format="json",
    )
    epic = api.post("/api/v1/epics/", {"business": "acme", "title": "Launch"}, format="json").json()
    api.post("/api/v1/tasks/", {"business": "acme", "title": "Write", "epic": epic["id"]}, format="json")
    api.post("/api/v1/budgets/", {"business": "acme", "period": "day", "limit_usd": "100"}, format="json")
    api.post("/api/v1/brain/documents/", {"business": "acme", "title": "Notes", "body": "b"}, format="json")
    return {"superuser": root_token, "viewer": viewer_token, "agent": agent_key}
