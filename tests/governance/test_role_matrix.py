"""Every API endpoint, every kind of caller: who gets 401, 403, 404 or through.

The endpoints come from the URLconf itself, so a new endpoint without a row in ``MATRIX`` fails
``test_every_api_endpoint_is_in_the_matrix`` until someone says who may call it. The rules are the
contract's: viewers read, operators run/abort/replay/pause, admins manage agents, keys, cron jobs,
workflows, budgets and policies, owners manage members and release the emergency stop; a
superuser may do everything; another business's objects are 404; agent keys use only the agent
side (and read what their business lets them). Each caller's request runs in a savepoint that is
rolled back, so every caller meets the same world.
"""

import re
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from agents.models import AgentCommand
from agents.services import create_agent, issue_key
from brain.services import write_document
from executions.models import Execution
from governance.models import Budget, ExecutionPolicy, OperatorToken
from governance.roles import RANK
from governance.stops import engage_emergency_stop
from intelligence.models import Suggestion
from tests.conftest import agent_client, client_for

V, OP, AD, OW = "viewer", "operator", "admin", "owner"
CALLERS = ["anonymous", "stranger", "agent", V, OP, AD, OW, "superuser"]
OK = {200, 201, 202, 204}


@dataclass(frozen=True)
class Rule:
    role: str | None = None  # least membership role; None: any signed-in person ("self" endpoints)
    people: bool = True  # operator tokens / sessions may call it
    agents: bool = False  # agent keys (of the business) may call it
    public: bool = False  # no credentials needed
    scoped: bool = True  # names an acme object: a stranger gets 404
    body: object = None  # dict, list, or callable(world) -> body
    query: str = ""
    kwargs: dict = field(default_factory=dict)  # url kwargs overriding the defaults; values may be callables
    setup: object = None  # callable(world) run inside the caller's savepoint before the request
    agent_expect: frozenset | None = None  # what an agent key gets, when it is neither through nor 403
    ok: frozenset = frozenset(OK)  # what "let through" looks like


def read(**kw) -> Rule:
    return Rule(role=V, query=kw.pop("query", "business=acme"), **kw)


def agent_only(**kw) -> Rule:
    return Rule(people=False, agents=True, **kw)


def _brain_document(world) -> None:
    world["brain"] = write_document(business=world["business"], key="matrix-doc", title="Matrix").pk


def _brain_pk(world, caller) -> int:
    return world["brain"]


SELF = Rule(role=None, scoped=False)
PUBLIC = Rule(public=True, people=True, agents=True, scoped=False, ok=frozenset(range(200, 500)))
GONE = frozenset({405})

MATRIX: dict[str, dict[str, Rule]] = {
    "health": {"get": Rule(public=True, agents=True, scoped=False, ok=frozenset({200, 503}))},
    "auth-token": {"post": PUBLIC},
    "auth-tokens": {"get": SELF},
    "auth-token-detail": {
        "delete": Rule(role=None, scoped=False, kwargs={"pk": lambda w, c: w["token_of"].get(c, 10**9)})
    },
    "event-list": {"get": read(agents=True)},
    "business-list": {
        "get": SELF,
        "post": Rule(role=None, scoped=False, body={"name": "New Co", "slug": "newco"}),
    },
    "business-detail": {"get": read()},
    "business-members": {"get": read(), "post": Rule(role=OW, body={"username": "victim", "role": OP})},
    "business-member": {"delete": Rule(role=OW)},
    "budget-list": {
        "get": read(),
        "post": Rule(role=AD, body={"business": "acme", "period": "week", "limit_usd": "5"}),
    },
    "budget-detail": {
        "get": read(),
        "patch": Rule(role=AD, body={"limit_usd": "7"}),
        "delete": Rule(role=AD),
    },
    "policy-list": {
        "get": read(),
        "post": Rule(
            role=AD, body=lambda w: {"business": "acme", "agent": w["agent"].pk, "rate_limit": "9/min"}
        ),
    },
    "policy-detail": {
        "get": read(),
        "patch": Rule(role=AD, body={"rate_limit": "100/min"}),
        "delete": Rule(role=AD),
    },
    "emergency-stop": {"get": read(), "post": Rule(role=OP, body={"reason": "matrix", "business": "acme"})},
    "emergency-stop-release": {
        "post": Rule(
            role=OW,
            body={"business": "acme"},
            setup=lambda w: engage_emergency_stop(business=w["business"], reason="matrix", actor="system"),
        )
    },
    "audit-list": {"get": Rule(role=AD, query="business=acme")},
    "agent-list": {"get": read(), "post": Rule(role=AD, body={"business": "acme", "name": "new-agent"})},
    "agent-detail": {"get": read(), "patch": Rule(role=AD, body={"notes": "matrix"})},
    "agent-start": {"post": Rule(role=OP, body={})},
    "agent-stop": {"post": Rule(role=OP, body={})},
    "agent-restart": {"post": Rule(role=OP, body={})},
    "agent-scale": {"post": Rule(role=OP, body={"replicas": 2})},
    "agent-run": {"post": Rule(role=OP, body={"input": {"q": 1}})},
    "agent-commands": {"get": read()},
    "agent-keys": {"get": read(), "post": Rule(role=AD, body={})},
    "agent-key": {"delete": Rule(role=AD)},
    "agent-heartbeat": {"post": agent_only(body={"status": "idle"})},
    "agent-command-ack": {"post": agent_only(body={})},
    "execution-list": {"get": read(agents=True), "post": agent_only(body={"status": "running"})},
    "execution-batch": {
        "post": agent_only(body={"executions": [{"status": "running"}]}, ok=frozenset({207}))
    },
    "execution-export": {"get": read(agents=True, query="business=acme&format=jsonl")},
    "execution-detail": {
        "get": read(agents=True),
        "put": Rule(role=None, agents=True, ok=GONE),
        "patch": Rule(role=OP, agents=True, body={"output": {"ok": True}}),
        "delete": Rule(role=None, agents=True, ok=GONE),
    },
    "execution-logs": {
        "get": read(agents=True),
        "post": Rule(role=OP, agents=True, body=[{"message": "matrix"}]),
    },
    "execution-abort": {"post": Rule(role=OP, body={})},
    "execution-replay": {"post": Rule(role=OP, body={}, kwargs={"pk": lambda w, c: w["failed"].pk})},
    "execution-claim": {"post": agent_only(body={})},
    "otel-traces": {"post": agent_only(body={})},  # an empty OTLP JSON export
    "execution-hook": {"post": PUBLIC},
    "agent-webhook": {"get": Rule(role=AD), "post": Rule(role=AD, body={}), "delete": Rule(role=AD)},
    "agent-signing-secret": {"get": Rule(role=AD), "post": Rule(role=AD, body={})},
    "agent-run-settings": {"get": read(), "patch": Rule(role=AD, body={"timeout_s": 60})},
    "cron-job-list": {
        "get": read(),
        "post": Rule(
            role=AD,
            body=lambda w: {
                "business": "acme",
                "name": "hourly",
                "schedule": "0 * * * *",
                "agent": w["agent"].pk,
            },
        ),
    },
    "cron-calendar": {"get": read()},
    "cron-job-detail": {
        "get": read(),
        "patch": Rule(role=AD, body={"name": "renamed"}),
        "delete": Rule(role=AD),
    },
    "cron-job-run-now": {"post": Rule(role=OP, body={})},
    "cron-job-pause": {"post": Rule(role=OP, body={})},
    "cron-job-resume": {"post": Rule(role=OP, body={})},
    "cron-job-runs": {"get": read()},
    "epic-list": {"get": read(), "post": Rule(role=OP, body={"business": "acme", "title": "New epic"})},
    "epic-detail": {
        "get": read(),
        "patch": Rule(role=OP, body={"title": "Renamed"}),
        "delete": Rule(role=OP),
    },
    "task-list": {
        "get": read(agents=True),
        "post": Rule(role=OP, body={"business": "acme", "title": "New task"}),
    },
    "task-detail": {
        "get": read(agents=True),
        # An agent may move only the tasks it holds, and only their status, result and comments.
        "patch": Rule(role=OP, body={"title": "Renamed"}, agent_expect=frozenset({400, 403})),
        "delete": Rule(role=OP),
    },
    "task-comments": {"get": read(agents=True), "post": Rule(role=OP, body={"body": "matrix"})},
    "agent-task-claim": {"post": agent_only(body={})},
    "workflow-list": {
        "get": read(),
        "post": Rule(
            role=AD, body=lambda w: {"business": "acme", "name": "wf2", "definition": w["definition"]}
        ),
    },
    "workflow-detail": {"get": read(), "patch": Rule(role=AD, body={"description": "matrix"})},
    "workflow-versions": {"get": read()},
    "workflow-runs": {"get": read(), "post": Rule(role=OP, body={"input": {}})},
    "workflow-webhook": {"post": Rule(role=AD, body={})},
    "workflow-hook": {"post": PUBLIC},
    "workflow-run-list": {"get": read()},
    "workflow-run-detail": {"get": read()},
    "workflow-run-cancel": {"post": Rule(role=OP, body={})},
    "workflow-run-rerun": {
        "post": Rule(
            role=OP,
            body={},
            setup=lambda w: w["clients"]["superuser"].post(
                f"/api/v1/workflow-runs/{w['kwargs']['pk']['workflow-run']}/cancel", {}, format="json"
            ),
        )
    },
    "dashboard-summary": {"get": read()},
    "dashboard-agents": {"get": read()},
    "dashboard-costs": {"get": read()},
    "dashboard-projection": {"get": read()},
    "dashboard-workload": {"get": read()},
    "anomaly-list": {"get": read()},
    "alert-list": {"get": read()},
    "agent-autoscale": {"get": Rule(role=V), "put": Rule(role=AD, body={})},
    "agent-autoscale-decisions": {"get": Rule(role=V)},
    "business-routing": {"get": Rule(role=V), "put": Rule(role=AD, body={"explore_share": 0.1})},
    # Past the role check the router answers: 202, or 409 no_eligible_agent (no agent of acme is online).
    "execution-route": {
        "post": Rule(
            role=OP, body={"business": "acme", "capability": "code", "input": {}}, ok=frozenset({202, 409})
        )
    },
    "prediction-list": {"get": read()},
    "prediction-model-list": {"get": read()},
    "suggestion-list": {"get": read()},
    "suggestion-apply": {"post": Rule(role=AD, body={})},
    "suggestion-dismiss": {"post": Rule(role=AD, body={})},
    "alert-rule-list": {
        "get": read(),
        "post": Rule(
            role=AD, body={"business": "acme", "name": "burn", "kind": "cost_burn", "threshold": "5"}
        ),
    },
    "alert-rule-detail": {
        "get": read(),
        "patch": Rule(role=AD, body={"enabled": False}),
        "delete": Rule(role=AD),
    },
    # The brain (brain/api/views.py): people read (viewer) and write (operator); agent keys both.
    "brain-document-list": {
        "get": read(agents=True),
        "post": Rule(role=OP, agents=True, body={"business": "acme", "key": "matrix", "title": "Matrix"}),
    },
    "brain-document": {
        "get": read(agents=True, setup=_brain_document, kwargs={"pk": _brain_pk}, query=""),
        "patch": Rule(
            role=OP, agents=True, body={"body": "x"}, setup=_brain_document, kwargs={"pk": _brain_pk}
        ),
    },
    "brain-document-versions": {
        "get": read(agents=True, setup=_brain_document, kwargs={"pk": _brain_pk}, query="")
    },
}


def api_endpoints() -> list[tuple[str, str, str]]:
    """(url name, method, route) for every API view in the URLconf."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern

    found = []
    for route, pattern in walk(get_resolver().url_patterns):
        view = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        if not route.startswith("api/v1/") or view is None:
            continue
        for method in ("get", "post", "put", "patch", "delete"):
            if hasattr(view, method):
                found.append((pattern.name, method, route))
    return found


ENDPOINTS = api_endpoints()


def test_every_api_endpoint_is_in_the_matrix():
    missing = sorted(
        f"{name} {method.upper()}" for name, method, _ in ENDPOINTS if method not in MATRIX.get(name, {})
    )
    assert not missing, f"Say who may call these in MATRIX: {missing}"
    known = {(name, method) for name, method, _ in ENDPOINTS}
    stale = sorted(f"{n} {m}" for n, methods in MATRIX.items() for m in methods if (n, m) not in known)
    assert not stale, f"No longer in the URLconf: {stale}"


@pytest.fixture
def world(business, other_business, make_member, django_user_model):
    """One of everything in acme, made through the API as its owner, and a client per caller."""
    agent = create_agent(business=business, name="worker", capabilities=["code"])
    spare_key, _ = issue_key(agent=agent, name="spare")
    owner = make_member(OW, business, username="acme-owner")
    root = client_for(owner)
    make_member(V, business, username="victim")
    definition = {"steps": [{"id": "one", "agent": agent.pk, "input": {}}]}
    made = {
        "cron": root.post(
            "/api/v1/cron-jobs/",
            {"business": "acme", "name": "nightly", "schedule": "0 3 * * *", "agent": agent.pk},
            format="json",
        ),
        "epic": root.post("/api/v1/epics/", {"business": "acme", "title": "Epic"}, format="json"),
        "task": root.post("/api/v1/tasks/", {"business": "acme", "title": "Task"}, format="json"),
        "workflow": root.post(
            "/api/v1/workflows/", {"business": "acme", "name": "wf", "definition": definition}, format="json"
        ),
        "alert_rule": root.post(
            "/api/v1/alert-rules/",
            {"business": "acme", "name": "failing", "kind": "failure_rate", "threshold": "0.5"},
            format="json",
        ),
    }
    for name, response in made.items():
        assert response.status_code == 201, (name, response.json())
    ids = {name: response.json()["id"] for name, response in made.items()}
    run = root.post(f"/api/v1/workflows/{ids['workflow']}/runs", {"input": {}}, format="json")
    assert run.status_code == 201, run.json()
    reporter = agent_client(agent)
    running = reporter.post("/api/v1/executions/", {"status": "running"}, format="json")
    failed = reporter.post("/api/v1/executions/", {"status": "failed", "error": "boom"}, format="json")
    assert running.status_code == 201 and failed.status_code == 201, (running.json(), failed.json())
    command = AgentCommand.objects.create(agent=agent, type="stop")
    budget = Budget.objects.create(business=business, period="month", limit_usd=100)
    policy = ExecutionPolicy.objects.create(business=business)
    nightly = {"from": "0 3 * * *", "to": "5 3 * * *"}
    suggestion = Suggestion.objects.create(
        business=business,
        kind="cron_stagger",
        subject=f"cron_jobs:{ids['cron']}",
        label="nightly",
        basis="matrix",
        summary="matrix",
        expected_gain="matrix",
        change={"type": "cron_schedules", "schedules": {str(ids["cron"]): nightly}},
    )

    people = {
        V: make_member(V, business),
        OP: make_member(OP, business),
        AD: make_member(AD, business),
        OW: make_member(OW, business),
        "stranger": make_member(OW, other_business),
        "superuser": make_member(V, None, is_superuser=True),
    }
    clients = {name: client_for(user) for name, user in people.items()}
    clients["anonymous"] = APIClient()
    clients["agent"] = agent_client(agent)
    token_of = {
        name: OperatorToken.objects.filter(user=user).latest("id").pk for name, user in people.items()
    }
    return {
        "business": business,
        "agent": agent,
        "definition": definition,
        "failed": Execution.objects.get(pk=failed.json()["id"]),
        "clients": clients,
        "token_of": token_of,
        "kwargs": {
            "pk": {
                "agent": agent.pk,
                "execution": running.json()["id"],
                "cron-job": ids["cron"],
                "epic": ids["epic"],
                "task": ids["task"],
                "workflow-run": run.json()["id"],
                "workflow": ids["workflow"],
                "alert-rule": ids["alert_rule"],
                "budget": budget.pk,
                "policy": policy.pk,
                "agent-command": command.pk,
                "suggestion": suggestion.pk,
            },
            "key_id": spare_key.pk,
            "slug": "acme",
            "username": "victim",
            "token": "not-a-real-token",
        },
    }


def expected(rule: Rule, caller: str) -> frozenset:
    if rule.public:
        return rule.ok
    if caller == "anonymous":
        return frozenset({401})
    if caller == "agent":
        if rule.agent_expect is not None:
            return rule.agent_expect
        return rule.ok if rule.agents else frozenset({403})
    if not rule.people:
        return frozenset({403})
    if rule.role is None or caller == "superuser":
        return rule.ok
    if caller == "stranger":
        return frozenset({404}) if rule.scoped else frozenset({403})
    return rule.ok if RANK[caller] >= RANK[rule.role] else frozenset({403})


def url_for(name: str, route: str, rule: Rule, world: dict, caller: str) -> str:
    kwargs = {}
    for param in re.findall(r"\(\?P<(\w+)>", route):
        if param in rule.kwargs:
            value = rule.kwargs[param]
            kwargs[param] = value(world, caller) if callable(value) else value
        elif param == "pk":
            kwargs[param] = _pk_for(name, world)
        else:
            kwargs[param] = world["kwargs"][param]
    url = reverse(name, kwargs=kwargs)
    return f"{url}?{rule.query}" if rule.query else url


def _pk_for(name: str, world: dict) -> int:
    pks = world["kwargs"]["pk"]
    if name == "agent-command-ack":
        return pks["agent-command"]
    # The longest resource prefix wins: "workflow-run-detail" is a workflow run, not a workflow.
    for resource in sorted(pks, key=len, reverse=True):
        if name.startswith(resource + "-") or name == resource:
            return pks[resource]
    if name.startswith("auth-token"):
        raise AssertionError("token urls take their pk from the rule")
    raise AssertionError(f"no object for {name}")


def _empty(response) -> bool:
    """True when a 200 carries no rows of any business (lists, calendars, exports)."""
    if not response.get("Content-Type", "").startswith("application/json"):
        return not b"".join(getattr(response, "streaming_content", [response.content])).strip()
    body = response.json()
    if isinstance(body, dict):
        rows = [v for v in body.values() if isinstance(v, list)]
        return bool(rows) and all(not r for r in rows)
    return body == []


def call(client, method: str, url: str, body):
    if method in ("get", "delete"):
        return getattr(client, method)(url)
    return getattr(client, method)(url, body if body is not None else {}, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "method", "route"),
    [pytest.param(*e, id=f"{e[0]}-{e[1]}") for e in ENDPOINTS if e[1] in MATRIX.get(e[0], {})],
)
def test_the_role_matrix(world, name, method, route):
    rule = MATRIX[name][method]
    wrong = []
    for caller in CALLERS:
        sid = transaction.savepoint()
        try:
            if rule.setup:
                rule.setup(world)
            body = rule.body(world) if callable(rule.body) else rule.body
            url = url_for(name, route, rule, world, caller)
            response = call(world["clients"][caller], method, url, body)
            status = response.status_code
        finally:
            transaction.savepoint_rollback(sid)
        # A list filtered by a business the caller cannot see may answer 404, or nothing at all.
        listing = method == "get" and "(?P<" not in route
        if caller == "stranger" and listing and status == 200 and _empty(response):
            continue
        if status not in expected(rule, caller):
            wrong.append(f"{caller}: {status} (expected {sorted(expected(rule, caller))})")
    assert not wrong, f"{method.upper()} {name}: " + "; ".join(wrong)
