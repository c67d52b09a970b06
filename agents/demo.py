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

from agents.brain import write_document
from agents.models import Agent, AgentKey, BrainDocument
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
    made = _brain(businesses, {(a.business.slug, a.name): a for a in agents}, admin)
    context["stdout"].write(
        f"  Brain: {made} documents written" if made else "  Brain: kept the existing documents"
    )


# business slug, agent name (None: shared by the business), key, title, tags, body
BRAIN = [
    ("demo", None, "runbooks/password-reset", "Password reset runbook", ["support", "runbook"],
     "1. Check the account is not locked by fraud rules (CRM flag `fraud_hold`).\n"
     "2. Send the reset link from the admin console; links expire after 30 minutes.\n"
     "3. If the customer never receives it, check the bounce list before resending.\n"
     "Escalate to the identity team when SSO is enabled for the customer's domain."),
    ("demo", None, "policies/refunds", "Refund policy", ["support", "billing", "policy"],
     "Refunds under $50 are approved automatically within 14 days of the charge.\n"
     "Between $50 and $500 a support lead approves; above $500, finance does.\n"
     "Never refund a chargeback twice: check the payment provider's dispute list first."),
    ("demo", None, "style/replies", "How we write to customers", ["support", "style"],
     "Greet by first name, answer in the first sentence, link the guide, sign with the team name.\n"
     "No blame, no jargon, no promises of dates the product team has not given."),
    ("demo", "code-reviewer", "memory/billing-service", "Notes on billing-service", ["code"],
     "Retries must use jittered backoff (see PR 4821).\n"
     "The 429 path of the payment webhook has no test yet; ask for one on every PR touching it."),
    ("demo", "ops-sentinel", "memory/slo", "Service level objectives", ["ops"],
     "checkout-service: 99.9% of requests under 800 ms, error rate under 0.5% over 15 minutes.\n"
     "db-2 disk: open a ticket above 70%, page above 85%."),
    ("labs", None, "evals/regression-suite", "Regression eval suite", ["eval"],
     "regression-v4: 1,200 held-out questions, scored by rubric v3.\n"
     "A checkpoint ships only with no category more than 1 point below the previous one."),
]  # fmt: skip


def _brain(businesses: dict, agents: dict, admin) -> int:
    made = 0
    for slug, agent_name, key, title, tags, body in BRAIN:
        business = businesses.get(slug)
        agent = agents.get((slug, agent_name)) if agent_name else None
        if business is None or (agent_name and agent is None):
            continue
        if BrainDocument.objects.filter(business=business, agent=agent, key=key).exists():
            continue
        write_document(
            business=business, agent=agent, key=key, title=title, body=body, tags=tags, actor=admin
        )
        made += 1
    return made


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
