"""The console's map: every page, its group in the navigation and the words the palette finds it by.

One list drives the sidebar and the command palette, so every page is reachable from both. A page is
listed here only once its backend exists: the console shows nothing it cannot back with real data.
"""

from dataclasses import dataclass

from django.urls import reverse


@dataclass(frozen=True)
class Page:
    key: str
    label: str
    group: str
    url_name: str
    keywords: str = ""
    per_business: bool = False  # URL carries the business slug (/<business>/board)

    def url(self, business_slug: str | None = None) -> str | None:
        if self.per_business:
            return reverse(self.url_name, args=[business_slug]) if business_slug else None
        return reverse(self.url_name)


GROUPS = ["Operate", "Business", "Observe", "Ledger", "Automate", "Knowledge", "Govern"]

PAGES: list[Page] = [
    Page("control", "Control panel", "Operate", "console:control", "health emergency stop running queued"),
    Page("agents", "Agents", "Operate", "console:agents", "registry fleet start stop restart scale keys"),
    Page(
        "overview",
        "Overview",
        "Business",
        "console:overview",
        "business dashboard summary",
        per_business=True,
    ),
    Page("board", "Board", "Business", "console:board", "kanban tasks dependencies drag", per_business=True),
    Page("epics", "Epics", "Business", "console:epics", "progress projects", per_business=True),
    Page("activity", "Activity", "Observe", "console:activity", "events live stream feed"),
    Page("analytics", "Analytics", "Observe", "console:analytics", "metrics dashboard success rate tokens"),
    Page("workload", "Workload", "Observe", "console:workload", "queue utilisation utilization capacity"),
    Page("bottlenecks", "Bottlenecks", "Observe", "console:bottlenecks", "slow failing stuck performance"),
    Page("costs", "Costs", "Observe", "console:costs", "spend money budget burn rate projection models"),
    Page(
        "executions",
        "Executions",
        "Ledger",
        "console:executions",
        "ledger runs history replay abort search export",
    ),
    Page("logs", "Logs", "Ledger", "console:logs", "prompts completions tool calls search export debug"),
    Page("cron", "Cron jobs", "Automate", "console:cron", "schedule scheduled jobs recurring timer"),
    Page("calendar", "Calendar", "Automate", "console:calendar", "scheduled runs month past upcoming"),
    Page("workflows", "Workflows", "Automate", "console:workflows", "pipeline dag builder steps runs"),
    Page(
        "advice",
        "Advice",
        "Automate",
        "console:advice",
        "suggestions optimise retries timeouts parallel cheaper stagger",
    ),
    Page(
        "settings",
        "Settings",
        "Govern",
        "console:settings",
        "governance budgets roles restrictions rate limits audit",
    ),
    Page("api-docs", "API docs", "Govern", "console:api-docs", "swagger openapi schema reference"),
]


def navigation(business_slug: str | None, active: str) -> list[dict]:
    """The sidebar: groups in a fixed order, each with its pages' labels and URLs."""
    groups = []
    for group in GROUPS:
        items = []
        for page in PAGES:
            if page.group != group:
                continue
            url = page.url(business_slug)
            if url:
                items.append({"key": page.key, "label": page.label, "url": url, "active": page.key == active})
        if items:
            groups.append({"name": group, "items": items})
    return groups
