"""Workflow definitions: validation on save, versions, the webhook token, and the expression
document a run evaluates (``when`` conditions and ``{"$ref": ...}`` inputs).

A definition is ``{"steps": [step, ...]}``; each step is
``{"id", "agent": id | "capability": str, "input": {...}, "depends_on": [ids], "when": "<JMESPath>",
"retry": {"max_attempts", "initial_interval_s", "backoff"}, "timeout_s", "continue_on_failure"}``.
Saving a changed definition makes a new immutable version; runs keep the version they started on.
A step's ``timeout_s`` counts from the moment the step starts (time spent waiting for an agent to
claim it included); a timed-out attempt is failed, its execution aborted, and the retry policy applies.
"""

import re
from collections import deque

import jmespath
from django.db import transaction
from jmespath.exceptions import JMESPathError

from agents.models import Agent
from governance import audit
from governance.audit import actor_name
from governance.models import Business
from mission_control.errors import DomainError
from mission_control.events import publish
from mission_control.secrets import issue_secret
from workflows.models import Workflow, WorkflowVersion

# Step ids double as JMESPath identifiers (``steps.classify.output``), so no dashes or dots.
STEP_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
STEP_KEYS = {
    "id",
    "name",
    "agent",
    "capability",
    "input",
    "depends_on",
    "when",
    "retry",
    "timeout_s",
    "continue_on_failure",
}
MAX_STEPS = 100
MAX_EXPRESSION_CHARS = 2000
MAX_EXPRESSION_NESTING = 32
MAX_ATTEMPTS = 10
MAX_TIMEOUT_S = 7 * 24 * 3600
BACKOFFS = {"fixed": 1.0, "exponential": 2.0}


class DefinitionError(Exception):
    def __init__(self, message: str, step: str | None = None):
        super().__init__(message)
        self.step = step
        self.message = message

    def as_api_error(self) -> DomainError:
        detail = f"Step '{self.step}': {self.message}" if self.step else self.message
        return DomainError("invalid_definition", detail, step=self.step, fields={"definition": [detail]})


def _fail(step: str | None, message: str):
    raise DefinitionError(message, step)


def referenced_steps(expression: str) -> set[str]:
    """Step ids an expression reads through ``steps.<id>``."""
    found: set[str] = set()

    def walk(node):
        if not isinstance(node, dict):
            return
        children = node.get("children") or []
        if node.get("type") == "subexpression" and len(children) >= 2:
            first, second = children[0], children[1]
            if (
                first.get("type") == "field"
                and first.get("value") == "steps"
                and second.get("type") == "field"
            ):
                found.add(second["value"])
        for child in children:
            walk(child)

    walk(jmespath.compile(expression).parsed)
    return found


def nesting(expression: str) -> int:
    """How deep brackets nest in an expression, outside its quoted literals."""
    depth = deepest = 0
    quote = None
    for ch in expression:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    return deepest


def _compile(step_id: str, what: str, expression) -> set[str]:
    if not isinstance(expression, str) or not expression.strip():
        _fail(step_id, f"{what} must be a non-empty JMESPath expression.")
    # JMESPath parses recursively: 500 nested parentheses were a RecursionError (a 500).
    if len(expression) > MAX_EXPRESSION_CHARS:
        _fail(step_id, f"{what} is longer than {MAX_EXPRESSION_CHARS} characters.")
    if nesting(expression) > MAX_EXPRESSION_NESTING:
        _fail(step_id, f"{what} nests brackets deeper than {MAX_EXPRESSION_NESTING} levels.")
    try:
        return referenced_steps(expression)
    except RecursionError:
        _fail(step_id, f"{what} nests too deeply.")
    except JMESPathError as exc:
        _fail(step_id, f"{what} is not a valid JMESPath expression ({str(exc).splitlines()[0]}).")


def _refs_in(step_id: str, value) -> set[str]:
    """Validate every ``{"$ref": expr}`` inside a step input; return the steps they read."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "$ref" in value:
            if len(value) != 1:
                _fail(step_id, 'an input reference is exactly {"$ref": "<JMESPath>"}.')
            return _compile(step_id, "$ref", value["$ref"])
        for item in value.values():
            found |= _refs_in(step_id, item)
    elif isinstance(value, list):
        for item in value:
            found |= _refs_in(step_id, item)
    return found


def _retry(step_id: str, retry) -> dict:
    if retry is None:
        return {"max_attempts": 1, "initial_interval_s": 0, "backoff": 2.0}
    if not isinstance(retry, dict) or set(retry) - {"max_attempts", "initial_interval_s", "backoff"}:
        _fail(step_id, "retry takes max_attempts, initial_interval_s and backoff.")
    attempts = retry.get("max_attempts", 1)
    interval = retry.get("initial_interval_s", 0)
    backoff = BACKOFFS.get(retry.get("backoff"), retry.get("backoff", 2.0))
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= MAX_ATTEMPTS:
        _fail(step_id, f"retry.max_attempts must be an integer from 1 to {MAX_ATTEMPTS}.")
    if not isinstance(interval, (int, float)) or isinstance(interval, bool) or not 0 <= interval <= 86400:
        _fail(step_id, "retry.initial_interval_s must be a number of seconds from 0 to 86400.")
    if not isinstance(backoff, (int, float)) or isinstance(backoff, bool) or not 1 <= backoff <= 10:
        _fail(step_id, "retry.backoff must be 'fixed', 'exponential' or a multiplier from 1 to 10.")
    return {"max_attempts": attempts, "initial_interval_s": interval, "backoff": float(backoff)}


def _step(raw, index: int, business: Business) -> dict:
    if not isinstance(raw, dict):
        _fail(None, f"steps[{index}] must be an object.")
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not STEP_ID.match(step_id):
        _fail(None, f"steps[{index}].id must be letters, digits and underscores, starting with a letter.")
    unknown = sorted(set(raw) - STEP_KEYS)
    if unknown:
        _fail(step_id, f"unknown keys {unknown}.")
    agent, capability = raw.get("agent"), raw.get("capability")
    if (agent is None) == (capability is None):
        _fail(step_id, "give exactly one of agent (an id) or capability (a name).")
    if agent is not None and (
        not isinstance(agent, int)
        or isinstance(agent, bool)
        or not Agent.objects.filter(pk=agent, business=business).exists()
    ):
        _fail(step_id, f"no agent {agent!r} in this business.")
    if capability is not None and (not isinstance(capability, str) or not capability.strip()):
        _fail(step_id, "capability must be a non-empty string.")
    step_input = raw.get("input", {})
    if not isinstance(step_input, dict):
        _fail(step_id, "input must be an object.")
    depends_on = raw.get("depends_on", [])
    if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        _fail(step_id, "depends_on must be a list of step ids.")
    timeout = raw.get("timeout_s")
    if timeout is not None and (
        not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= MAX_TIMEOUT_S
    ):
        _fail(step_id, f"timeout_s must be an integer from 1 to {MAX_TIMEOUT_S}.")
    if not isinstance(raw.get("continue_on_failure", False), bool):
        _fail(step_id, "continue_on_failure must be true or false.")
    return {
        "id": step_id,
        "name": str(raw.get("name") or step_id),
        "agent": agent,
        "capability": capability,
        "input": step_input,
        "depends_on": list(dict.fromkeys(depends_on)),
        "when": raw.get("when") or None,
        "retry": _retry(step_id, raw.get("retry")),
        "timeout_s": timeout,
        "continue_on_failure": raw.get("continue_on_failure", False),
    }


def ancestors(steps: list[dict]) -> dict[str, set[str]]:
    """Every step's transitive dependencies (the definition must be acyclic)."""
    by_id = {s["id"]: s for s in steps}
    memo: dict[str, set[str]] = {}

    def of(step_id: str) -> set[str]:
        if step_id not in memo:
            memo[step_id] = set()
            for dep in by_id[step_id]["depends_on"]:
                memo[step_id] |= {dep, *of(dep)}
        return memo[step_id]

    return {step_id: of(step_id) for step_id in by_id}


def _check_graph(steps: list[dict]) -> None:
    ids = [s["id"] for s in steps]
    known = set(ids)
    for step in steps:
        for dep in step["depends_on"]:
            if dep == step["id"]:
                _fail(step["id"], "a step cannot depend on itself.")
            if dep not in known:
                _fail(step["id"], f"depends on unknown step '{dep}'.")
    # Kahn's algorithm: whatever cannot be ordered sits on (or behind) a cycle.
    indegree = {s["id"]: len(s["depends_on"]) for s in steps}
    dependents = {i: [] for i in ids}
    for step in steps:
        for dep in step["depends_on"]:
            dependents[dep].append(step["id"])
    queue = deque(i for i in ids if indegree[i] == 0)
    ordered = 0
    while queue:
        current = queue.popleft()
        ordered += 1
        for nxt in dependents[current]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                queue.append(nxt)
    if ordered != len(ids):
        stuck = next(i for i in ids if indegree[i] > 0)
        _fail(stuck, "its dependencies form a cycle.")


def validate_definition(definition, *, business: Business) -> dict:
    """Return the normalised definition, or raise DomainError 400 ``invalid_definition`` naming the step."""
    try:
        if not isinstance(definition, dict) or set(definition) - {"steps"}:
            _fail(None, 'A definition is {"steps": [...]}.')
        raw_steps = definition.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            _fail(None, "A workflow needs at least one step.")
        if len(raw_steps) > MAX_STEPS:
            _fail(None, f"A workflow has at most {MAX_STEPS} steps.")
        steps = [_step(raw, i, business) for i, raw in enumerate(raw_steps)]
        seen: set[str] = set()
        for step in steps:
            if step["id"] in seen:
                _fail(step["id"], "two steps have this id.")
            seen.add(step["id"])
        _check_graph(steps)
        upstream = ancestors(steps)
        for step in steps:
            reads = _refs_in(step["id"], step["input"])
            if step["when"] is not None:
                reads |= _compile(step["id"], "when", step["when"])
            for other in sorted(reads):
                if other not in seen:
                    _fail(step["id"], f"refers to unknown step '{other}'.")
                if other not in upstream[step["id"]]:
                    _fail(step["id"], f"reads step '{other}' without depending on it (add it to depends_on).")
        return {"steps": steps}
    except DefinitionError as exc:
        raise exc.as_api_error() from None


def _new_version(workflow: Workflow, definition: dict, actor) -> WorkflowVersion:
    number = (workflow.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = WorkflowVersion.objects.create(
        workflow=workflow, number=number, definition=definition, created_by=actor_name(actor)
    )
    workflow.current_version = version
    workflow.save(update_fields=["current_version", "updated_at"])
    return version


@transaction.atomic
def create_workflow(
    *, business: Business, name: str, definition, description: str = "", actor=None
) -> Workflow:
    normalised = validate_definition(definition, business=business)
    if Workflow.objects.filter(business=business, name=name).exists():
        raise DomainError("name_taken", f"A workflow named '{name}' already exists here.")
    workflow = Workflow.objects.create(
        business=business, name=name, description=description, created_by=actor_name(actor)
    )
    version = _new_version(workflow, normalised, actor)
    audit.record(
        actor=actor,
        action="workflow.create",
        business=business,
        target_type="workflow",
        target_id=workflow.pk,
        after={"name": name, "version": version.number},
    )
    publish(
        kind="workflow.created",
        business=business,
        actor=actor_name(actor),
        message=f"Workflow {name} created",
        data={"workflow": workflow.pk, "version": version.number},
    )
    return workflow


@transaction.atomic
def update_workflow(*, workflow: Workflow, actor=None, definition=None, **changes) -> Workflow:
    """Rename, describe, or give a new definition (a new version when it differs)."""
    workflow = (
        Workflow.objects.select_for_update(of=("self",))
        .select_related("business", "current_version")
        .get(pk=workflow.pk)
    )
    before = {
        "name": workflow.name,
        "version": workflow.current_version.number if workflow.current_version else None,
    }
    renamed = "name" in changes and changes["name"] != workflow.name
    if renamed and Workflow.objects.filter(business=workflow.business, name=changes["name"]).exists():
        raise DomainError("name_taken", f"A workflow named '{changes['name']}' already exists here.")
    for name, value in changes.items():
        setattr(workflow, name, value)
    workflow.save()
    if definition is not None:
        normalised = validate_definition(definition, business=workflow.business)
        if normalised != workflow.definition:
            _new_version(workflow, normalised, actor)
    after = {"name": workflow.name, "version": workflow.current_version.number}
    audit.record(
        actor=actor,
        action="workflow.update",
        business=workflow.business,
        target_type="workflow",
        target_id=workflow.pk,
        before=before,
        after=after,
    )
    publish(
        kind="workflow.updated",
        business=workflow.business,
        actor=actor_name(actor),
        message=f"Workflow {workflow.name} updated (v{after['version']})",
        data={"workflow": workflow.pk, **after},
    )
    return workflow


@transaction.atomic
def rotate_webhook_token(*, workflow: Workflow, actor=None) -> str:
    """Issue a new webhook token (the old one stops working at once); returns it, shown once."""
    secret = issue_secret("mcw")
    Workflow.objects.filter(pk=workflow.pk).update(
        webhook_token_hash=secret.digest, webhook_token_prefix=secret.prefix
    )
    audit.record(
        actor=actor,
        action="workflow.webhook_rotate",
        business=workflow.business,
        target_type="workflow",
        target_id=workflow.pk,
        after={"prefix": secret.prefix},
    )
    return secret.raw
