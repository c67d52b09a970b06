"""Per-agent run settings an admin manages: the webhook that starts work, the push signing secret.

A webhook URL carries a secret token (``/api/v1/hooks/<token>``); only its hash is stored, so the
URL is shown once, when it is made or rotated. Rotating invalidates the old URL at once.
"""

import secrets

from django.db import transaction
from django.utils import timezone

from agents.models import Agent
from executions.lifecycle import start_execution
from executions.models import AgentRunSettings, Execution, Trigger
from executions.retry_policy import validate_retry_policy
from governance import audit
from mission_control.errors import DomainError
from mission_control.secrets import hash_secret, issue_secret

HOOK_KIND = "mch"


def _settings_for(agent: Agent) -> AgentRunSettings:
    row, _ = AgentRunSettings.objects.select_for_update().get_or_create(agent=agent)
    return row


@transaction.atomic
def rotate_hook(*, agent: Agent, actor) -> str:
    """Make (or replace) the agent's webhook token; returns the raw token, shown once."""
    secret = issue_secret(HOOK_KIND)
    row = _settings_for(agent)
    before = row.hook_token_prefix or None
    row.hook_token_hash = secret.digest
    row.hook_token_prefix = secret.prefix
    row.hook_rotated_at = timezone.now()
    row.save(update_fields=["hook_token_hash", "hook_token_prefix", "hook_rotated_at"])
    audit.record(
        actor=actor,
        action="agent.webhook_rotate",
        business=agent.business,
        target_type="agent",
        target_id=agent.pk,
        before={"prefix": before} if before else None,
        after={"prefix": secret.prefix},
    )
    return secret.raw


@transaction.atomic
def disable_hook(*, agent: Agent, actor) -> None:
    row = _settings_for(agent)
    if row.hook_token_hash is None:
        return
    before = row.hook_token_prefix
    row.hook_token_hash = None
    row.hook_token_prefix = ""
    row.save(update_fields=["hook_token_hash", "hook_token_prefix"])
    audit.record(
        actor=actor,
        action="agent.webhook_disable",
        business=agent.business,
        target_type="agent",
        target_id=agent.pk,
        before={"prefix": before},
    )


def run_hook(*, token: str, input: dict) -> Execution:
    """Start the agent's work with trigger ``webhook``. An unknown token is a 404."""
    row = (
        AgentRunSettings.objects.select_related("agent", "agent__business")
        .filter(hook_token_hash=hash_secret(token))
        .first()
        if token.startswith(f"{HOOK_KIND}_")
        else None
    )
    if row is None:
        raise DomainError("not_found", "No such webhook.")
    return start_execution(
        agent=row.agent, trigger=Trigger.WEBHOOK, input=input, actor=f"webhook:{row.hook_token_prefix}"
    )


@transaction.atomic
def rotate_signing_secret(*, agent: Agent, actor) -> str:
    """Replace the secret push deliveries are signed with; returns it."""
    row = _settings_for(agent)
    row.signing_secret = f"mcs_{secrets.token_urlsafe(32)}"
    row.save(update_fields=["signing_secret"])
    audit.record(
        actor=actor,
        action="agent.signing_secret_rotate",
        business=agent.business,
        target_type="agent",
        target_id=agent.pk,
    )
    return row.signing_secret


@transaction.atomic
def configure_runs(*, agent: Agent, actor, **values) -> AgentRunSettings:
    """Set the agent's defaults for new executions: ``timeout_s``, ``heartbeat_timeout_s``,
    ``retry_policy`` (each may be None to clear it)."""
    row = _settings_for(agent)
    before = {k: getattr(row, k) for k in values}
    if "retry_policy" in values:
        values["retry_policy"] = validate_retry_policy(values["retry_policy"])
    for name, value in values.items():
        setattr(row, name, value)
    row.save(update_fields=list(values))
    audit.record(
        actor=actor,
        action="agent.run_settings",
        business=agent.business,
        target_type="agent",
        target_id=agent.pk,
        before=before,
        after=values,
    )
    return row
