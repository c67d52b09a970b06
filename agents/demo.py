"""Demo seed for agents: a fleet in the demo businesses, each with a key for the simulator.

Idempotent: agents are found by name, and a key is reissued only when the one in the fleet file no
longer works. ``var/demo_fleet.json`` holds the raw keys: it exists only so that ``manage.py
simulate`` (on this machine) can act as these agents. It is written with owner-only permissions
and is never read by the server; a real deployment issues keys through the API or the admin.
"""

import json
import os
from pathlib import Path

from django.conf import settings

from agents.models import Agent, AgentKey
from agents.services import create_agent, issue_key, revoke_key
from governance.models import Business
from mission_control.secrets import hash_secret

KEY_NAME = "simulator"

# name, business slug, capabilities, model, provider, version, runtime location, scale bounds, style
FLEET = [
    ("triage-bot", "demo", ["triage", "classify", "support"], "gpt-4o-mini", "openai", "1.8.2",
     "k8s/eu-west-1/support-5d7f", (1, 1, 4), "pull"),
    ("support-writer", "demo", ["support", "docs", "write"], "claude-sonnet-4", "anthropic", "2.3.0",
     "k8s/eu-west-1/support-9b21", (1, 1, 4), "pull"),
    ("code-reviewer", "demo", ["code", "review"], "gpt-4.1", "openai", "0.9.14",
     "github-actions/runner-12", (1, 0, 3), "pull"),
    ("research-scout", "demo", ["research", "web"], "gemini-2.5-flash", "google", "3.1.0",
     "gcp/us-central1/cloud-run", (1, 0, 5), "flaky"),
    ("ops-sentinel", "demo", ["ops", "monitor"], "claude-3-5-haiku", "anthropic", "1.2.7",
     "on-prem/paris-dc2/vm-14", (1, 1, 2), "autonomous"),
    ("data-analyst", "demo", ["sql", "analytics"], "gpt-4o", "openai", "4.0.3",
     "aws/eu-central-1/ecs-task-7", (1, 0, 4), "pull"),
    ("lab-experimenter", "labs", ["research", "eval"], "claude-opus-4", "anthropic", "0.4.0",
     "lab/gpu-node-3", (1, 0, 2), "autonomous"),
    ("lab-summarizer", "labs", ["summarize", "docs"], "gemini-2.5-pro", "google", "1.0.1",
     "lab/cpu-node-1", (1, 0, 3), "pull"),
]  # fmt: skip


def fleet_path() -> Path:
    return Path(settings.VAR_DIR) / "demo_fleet.json"


def _known_keys(path: Path) -> dict[str, str]:
    try:
        entries = json.loads(path.read_text()).get("agents", [])
    except (OSError, ValueError):
        return {}
    return {f"{e.get('business')}/{e.get('name')}": e.get("key", "") for e in entries}


def _working_key(agent: Agent, raw: str) -> bool:
    return bool(raw) and AgentKey.objects.active().filter(agent=agent, key_hash=hash_secret(raw)).exists()


def seed(context: dict) -> None:
    businesses = {b.slug: b for b in Business.objects.filter(slug__in={row[1] for row in FLEET})}
    admin = context.get("admin")
    path = fleet_path()
    known = _known_keys(path)
    agents, entries = [], []
    for name, slug, caps, model, provider, version, location, (scale, low, high), style in FLEET:
        business = businesses.get(slug)
        if business is None:
            continue
        agent = Agent.objects.filter(business=business, name=name).first() or create_agent(
            business=business,
            name=name,
            actor=admin,
            capabilities=caps,
            scale=scale,
            min_scale=low,
            max_scale=high,
            heartbeat_timeout_s=30,
            notes=f"Demo agent: runs {model} ({provider}).",
        )
        raw = known.get(f"{slug}/{name}", "")
        if not _working_key(agent, raw):
            for old in (
                AgentKey.objects.active().filter(agent=agent, name=KEY_NAME).select_related("agent__business")
            ):
                revoke_key(key=old, actor=admin)
            _, raw = issue_key(agent=agent, name=KEY_NAME, actor=admin)
        agents.append(agent)
        entries.append(
            {
                "id": agent.pk,
                "name": name,
                "business": slug,
                "key": raw,
                "capabilities": agent.capabilities,
                "model": model,
                "provider": provider,
                "version": version,
                "runtime_location": location,
                "style": style,
            }
        )
    _write_private(
        path,
        {
            "note": "Raw agent keys for `manage.py simulate` on this machine only. Never commit or share.",
            "agents": entries,
        },
    )
    context["agents"] = [*context.get("agents", []), *agents]
    context["stdout"].write(f"  Agents: {len(agents)} demo agents; simulator keys in {path}")


def _write_private(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)  # readers never see a half-written file


def demo_workers(context: dict, business) -> list[Agent]:
    """At least two agents of ``business`` for the board and workflow seeds: the agents seed's, else
    the business's own, else two made here (when the agents seed made none there)."""
    agents = [a for a in context.get("agents", []) if a.business_id == business.pk]
    agents = agents or list(Agent.objects.filter(business=business).order_by("id"))
    if len(agents) >= 2:
        return agents
    # The agents seed did not run (or made none): bring two of our own.
    made = []
    for name, caps in (("work-triager", ["triage", "support"]), ("work-writer", ["support", "docs"])):
        agent = Agent.objects.filter(business=business, name=name).first()
        made.append(agent or create_agent(business=business, name=name, capabilities=caps))
    return made
