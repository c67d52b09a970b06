"""The command palette's index: what a user may jump to or act on, ranked by a fuzzy match.

Everything is scoped through the same access rules as the API (the user's businesses, their role in
each). Actions carry the API endpoint they POST to, so running one from the palette goes through the
API's own permission checks and services; the roles here only decide what is worth offering.
"""

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone

from agents.models import Agent
from console.pages import PAGES
from executions.models import Execution
from governance.roles import Role
from workflows.models import CronJob, Workflow

MAX_RESULTS = 20
RECENT_EXECUTIONS = 25
KIND_ORDER = {"action": 0, "page": 1, "agent": 2, "workflow": 3, "cron": 4, "execution": 5}


@dataclass
class Item:
    kind: str
    label: str
    detail: str = ""
    url: str | None = None
    action: dict | None = None
    keywords: str = ""
    score: float = field(default=0.0, compare=False)

    def as_json(self) -> dict:
        data = {"kind": self.kind, "label": self.label, "detail": self.detail}
        if self.url:
            data["url"] = self.url
        if self.action:
            data["action"] = self.action
        return data


def fuzzy_score(query: str, text: str) -> float | None:
    """Score ``query`` as a subsequence of ``text`` (None: no match). Consecutive letters and letters
    at word starts score higher, so "rc1" finds "Run coder-1" before "error count 1"."""
    query, text = query.lower(), text.lower()
    if not query:
        return 0.0
    if query in text:
        start = text.index(query)
        return (
            100.0 + len(query) * 3 - start * 0.1 + (10 if start == 0 or not text[start - 1].isalnum() else 0)
        )
    score, pos, run = 0.0, 0, 0
    for char in query:
        found = text.find(char, pos)
        if found < 0:
            return None
        run = run + 1 if found == pos and pos > 0 else 0
        at_word_start = found == 0 or not text[found - 1].isalnum()
        score += 1 + run * 2 + (4 if at_word_start else 0) - min(found - pos, 10) * 0.2
        pos = found + 1
    return score


def rank(items: list[Item], query: str, limit: int = MAX_RESULTS) -> list[Item]:
    tokens = query.split()
    ranked = []
    for item in items:
        haystack = f"{item.label} {item.detail} {item.keywords}"
        total = 0.0
        for token in tokens:
            # The label counts most: a token found there beats one found only in the detail.
            score = fuzzy_score(token, item.label)
            score = score * 1.5 if score is not None else fuzzy_score(token, haystack)
            if score is None:
                break
            total += score
        else:
            item.score = total
            ranked.append(item)
    ranked.sort(key=lambda i: (-i.score, KIND_ORDER.get(i.kind, 9), len(i.label)))
    return ranked[:limit]


def page_url(key: str, scope) -> str | None:
    page = next((p for p in PAGES if p.key == key), None)
    return page.url(scope.home_slug) if page else None


def _pages(scope) -> list[Item]:
    items = []
    for p in PAGES:
        url = p.url(scope.home_slug)
        if url:
            items.append(Item("page", p.label, p.group, url=url, keywords=p.keywords))
    return items


def _agents(scope, now) -> tuple[list[Item], list[Item]]:
    items, actions = [], []
    logs_url = page_url("logs", scope)
    agents = (
        Agent.objects.filter(business_id__in=scope.ids)
        .with_live_status(now)
        .select_related("business")
        .order_by("name")
    )
    for agent in agents:
        where = agent.business.name
        status = agent.effective_status(now)
        items.append(
            Item(
                "agent",
                agent.name,
                f"Agent · {where} · {status}",
                url=reverse("console:agent", args=[agent.pk]),
                keywords=" ".join(agent.capabilities or []),
            )
        )
        if scope.can(agent.business_id, Role.OPERATOR):
            actions.append(
                _api_action(
                    f"Run agent {agent.name}",
                    where,
                    f"/api/v1/agents/{agent.pk}/run",
                    {"input": {}},
                    done=f"Run of {agent.name} queued",
                    keywords="execute start manual",
                )
            )
            actions.append(
                _api_action(
                    f"Restart agent {agent.name}",
                    where,
                    f"/api/v1/agents/{agent.pk}/restart",
                    {},
                    done=f"Restart sent to {agent.name}",
                    keywords="reboot worker lifecycle",
                )
            )
        if logs_url:
            actions.append(
                Item("action", f"View logs of {agent.name}", where, url=f"{logs_url}?agent={agent.pk}")
            )
    return items, actions


def _executions(scope, query: str) -> list[Item]:
    qs = Execution.objects.filter(business_id__in=scope.ids).select_related("agent")
    wanted = re.fullmatch(r"#?(\d+)", query.strip())
    rows = list(qs.filter(pk=int(wanted.group(1)))) if wanted else []
    rows += [e for e in qs.order_by("-id")[:RECENT_EXECUTIONS] if not rows or e.pk != rows[0].pk]
    detail_url = page_url("executions", scope)
    return [
        Item(
            "execution",
            f"#{e.pk} {e.agent.name}",
            f"Execution · {e.status} · {e.trigger}",
            url=f"{detail_url.rstrip('/')}/{e.pk}" if detail_url else None,
            keywords=f"{e.pk} {e.model}",
        )
        for e in rows
        if detail_url
    ]


def _api_action(label, detail, endpoint, body, *, done, keywords="", prompt=None) -> Item:
    action = {"method": "POST", "endpoint": endpoint, "body": body, "done": done}
    if prompt:
        action["prompt"] = prompt
    return Item("action", label, detail, action=action, keywords=keywords)


def _cron_jobs(scope) -> tuple[list[Item], list[Item]]:
    cron_url = page_url("cron", scope)
    if not cron_url:
        return [], []
    items, actions = [], []
    for job in CronJob.objects.filter(business_id__in=scope.ids).select_related("business").order_by("name"):
        state = "held" if job.held_by_stop else ("active" if job.enabled else "paused")
        items.append(
            Item(
                "cron",
                job.name,
                f"Cron · {job.schedule} · {state} · {job.business.name}",
                url=f"{cron_url}#cron-{job.pk}",
                keywords="cron schedule job",
            )
        )
        if scope.can(job.business_id, Role.OPERATOR):
            actions.append(
                _api_action(
                    f"Run cron job {job.name} now",
                    job.business.name,
                    f"/api/v1/cron-jobs/{job.pk}/run-now",
                    {},
                    done=f"{job.name} started",
                    keywords="fire trigger",
                )
            )
    return items, actions


def _workflows(scope) -> tuple[list[Item], list[Item]]:
    workflows_url = page_url("workflows", scope)
    if not workflows_url:
        return [], []
    items, actions = [], []
    for flow in (
        Workflow.objects.filter(business_id__in=scope.ids).select_related("business").order_by("name")
    ):
        items.append(
            Item(
                "workflow",
                flow.name,
                f"Workflow · {flow.business.name}",
                url=f"{workflows_url}?workflow={flow.pk}",
                keywords="pipeline dag",
            )
        )
        if scope.can(flow.business_id, Role.OPERATOR):
            actions.append(
                _api_action(
                    f"Trigger workflow {flow.name}",
                    flow.business.name,
                    f"/api/v1/workflows/{flow.pk}/runs",
                    {"input": {}},
                    done=f"Workflow {flow.name} started",
                    keywords="run start pipeline",
                )
            )
    return items, actions


def _search_executions(scope, query: str) -> Item | None:
    executions_url = page_url("executions", scope)
    if not executions_url:
        return None
    text = query.strip()
    if not text:
        return Item("action", "Search executions", "Ledger", url=executions_url)
    return Item(
        "action",
        f"Search executions for “{text}”",
        "Ledger",
        url=f"{executions_url}?{urlencode({'q': text})}",
    )


def _global_actions(scope) -> list[Item]:
    items = []
    cron_url = page_url("cron", scope)
    if cron_url and scope.can_anywhere(Role.ADMIN):
        items.append(Item("action", "Create cron job", "Schedule", url=f"{cron_url}?new=1#new-cron"))
    stop_prompt = {"field": "reason", "label": "Why stop? (recorded in the audit log)", "required": True}
    if scope.user.is_superuser and scope.current is None:
        items.append(
            _api_action(
                "Emergency stop: everything",
                "Stops every business",
                "/api/v1/emergency-stop",
                {},
                done="Emergency stop engaged",
                keywords="halt kill panic abort all",
                prompt=stop_prompt,
            )
        )
    for business in [scope.current] if scope.current else scope.businesses:
        if scope.can(business.pk, Role.OPERATOR):
            items.append(
                _api_action(
                    f"Emergency stop: {business.name}",
                    "Stops all work in this business",
                    "/api/v1/emergency-stop",
                    {"business": business.slug},
                    done=f"Emergency stop engaged for {business.name}",
                    keywords="halt kill panic abort",
                    prompt=stop_prompt,
                )
            )
    return items


def search(*, scope, query: str) -> list[dict]:
    """Palette results for ``query`` (empty: pages and the common actions), best first."""
    search_action = _search_executions(scope, query)
    if not query.strip():
        items = [*_pages(scope), *_global_actions(scope)]
        if search_action:
            items.insert(0, search_action)
        return [i.as_json() for i in items[:MAX_RESULTS]]
    agents, agent_actions = _agents(scope, timezone.now())
    jobs, job_actions = _cron_jobs(scope)
    flows, flow_actions = _workflows(scope)
    candidates = [
        *_pages(scope),
        *agents,
        *agent_actions,
        *jobs,
        *job_actions,
        *flows,
        *flow_actions,
        *_global_actions(scope),
        *_executions(scope, query),
    ]
    ranked = rank(candidates, query, limit=MAX_RESULTS - 1)
    if search_action:
        ranked.append(search_action)  # always offered, last: the fallback when nothing fits
    return [i.as_json() for i in ranked]
