"""The audit log as a person reads it: each target by its name ("agent triage-bot", not "agent 8") and
what changed as one line per field, before → after, instead of raw JSON."""

import json

from django.apps import apps
from django.contrib.auth import get_user_model

MISSING = object()
LONGEST = 120

# target_type -> (app label, model name, select_related, how one row is named)
TARGETS = {
    "agent": ("agents", "Agent", (), lambda o: o.name),
    "agent_key": ("agents", "AgentKey", ("agent",), lambda o: f"“{o.name}” of {o.agent.name}"),
    "alert_rule": ("observability", "AlertRule", (), lambda o: o.name),
    "budget": ("governance", "Budget", ("business",), lambda o: f"{o.period} of {o.business.name}"),
    "cron_job": ("workflows", "CronJob", (), lambda o: o.name),
    "emergency_stop": ("governance", "EmergencyStop", ("business",), lambda o: f"#{o.pk}"),
    "execution": ("executions", "Execution", ("agent",), lambda o: f"#{o.pk} of {o.agent.name}"),
    "policy": ("governance", "ExecutionPolicy", ("business",), lambda o: f"of {o.business.name}"),
    "workflow": ("workflows", "Workflow", (), lambda o: o.name),
    "workflow_run": ("workflows", "WorkflowRun", ("workflow",), lambda o: f"#{o.pk} of {o.workflow.name}"),
}


def _rows(target_type: str, ids: set[int]) -> dict:
    if target_type == "user":
        return {u.pk: u.username for u in get_user_model().objects.filter(pk__in=ids)}
    spec = TARGETS.get(target_type)
    if spec is None:
        return {}
    label, name, related, naming = spec
    try:
        model = apps.get_model(label, name)
    except LookupError:
        return {}
    return {row.pk: naming(row) for row in model.objects.filter(pk__in=ids).select_related(*related)}


def target_names(entries) -> dict[tuple[str, str], str]:
    """``(target_type, target_id)`` -> a name, one query per kind of target."""
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        if entry.target_id.isdigit():
            wanted.setdefault(entry.target_type, set()).add(int(entry.target_id))
    names = {}
    for target_type, ids in wanted.items():
        for pk, name in _rows(target_type, ids).items():
            names[(target_type, str(pk))] = name
    return names


def readable(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        text = ", ".join(readable(v) for v in value) or "(empty)"
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    else:
        text = str(value) if value != "" else "(empty)"
    return text if len(text) <= LONGEST else text[: LONGEST - 1] + "…"


# Fields that hold the id of another row, named like targets: "agent: triage-bot", not "agent: 2".
REFERENCES = {"agent": "agent", "workflow": "workflow", "cron_job": "cron_job", "budget": "budget"}


def _referenced(entries) -> dict[tuple[str, str], str]:
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        for snapshot in (entry.before, entry.after):
            if not isinstance(snapshot, dict):
                continue
            for field, kind in REFERENCES.items():
                value = snapshot.get(field)
                if isinstance(value, int) and not isinstance(value, bool):
                    wanted.setdefault(kind, set()).add(value)
    names = {}
    for kind, ids in wanted.items():
        for pk, name in _rows(kind, ids).items():
            names[(kind, str(pk))] = name
    return names


def changes(before, after, names: dict | None = None) -> list[dict]:
    """One line per field that changed: ``{"field", "before", "after"}`` (None where there was none);
    ids of agents, workflows, cron jobs and budgets read as their names when ``names`` has them."""
    names = names or {}

    def shown(key, value):
        kind = REFERENCES.get(key)
        if kind and isinstance(value, int) and (kind, str(value)) in names:
            return names[(kind, str(value))]
        return readable(value)

    if not isinstance(before, dict) or not isinstance(after, dict):
        if before is None and after is None:
            return []
        if not isinstance(before or {}, dict) or not isinstance(after or {}, dict):
            return [{"field": "value", "before": readable(before), "after": readable(after)}]
    before, after = before or {}, after or {}
    lines = []
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key, MISSING), after.get(key, MISSING)
        if old == new:
            continue
        lines.append(
            {
                "field": key.replace("_", " "),
                "before": None if old is MISSING else shown(key, old),
                "after": "(removed)" if new is MISSING else shown(key, new),
            }
        )
    return lines


def present(entries) -> list[dict]:
    """Rows for the audit table: the entry, its target named, and its changes."""
    entries = list(entries)
    names = target_names(entries)
    referenced = _referenced(entries)
    rows = []
    for entry in entries:
        kind = entry.target_type.replace("_", " ")
        name = names.get((entry.target_type, entry.target_id))
        if name is None:  # gone since, or never a row: the snapshot may still name it
            snapshot = entry.after if isinstance(entry.after, dict) else entry.before
            name = (snapshot or {}).get("name") if isinstance(snapshot, dict) else None
            name = name or (f"#{entry.target_id}" if entry.target_id else "")
        rows.append(
            {
                "entry": entry,
                "target": f"{kind} {name}".strip(),
                "changes": changes(entry.before, entry.after, referenced),
            }
        )
    return rows
