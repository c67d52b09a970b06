"""The operator pages. Every path answers with or without a trailing slash (APPEND_SLASH is off)."""

from console.views import (
    activity,
    agents,
    analytics,
    brain,
    business,
    control,
    cron,
    docs,
    executions,
    frame,
    intelligence,
    logs,
    settings,
    workflows,
)
from mission_control.api.routing import api_path

app_name = "console"

urlpatterns = [
    api_path("control", control.control, name="control"),
    api_path("agents", agents.agent_list, name="agents"),
    api_path("agents/<int:agent_id>", agents.agent_detail, name="agent"),
    api_path("global/activity", activity.activity, name="activity"),
    api_path("global/analytics", analytics.analytics, name="analytics"),
    api_path("global/workload", analytics.workload_page, name="workload"),
    api_path("global/bottlenecks", analytics.bottlenecks, name="bottlenecks"),
    api_path("global/costs", analytics.costs, name="costs"),
    api_path("global/executions", executions.execution_list, name="executions"),
    api_path("global/executions/<int:execution_id>", executions.execution_detail, name="execution"),
    api_path("global/logs", logs.log_list, name="logs"),
    api_path("global/logs/export", logs.log_export, name="logs-export"),
    api_path("global/cron", cron.cron_list, name="cron"),
    api_path("global/cron/preview", cron.cron_preview, name="cron-preview"),
    api_path("global/calendar", cron.calendar_page, name="calendar"),
    api_path("global/workflows", workflows.workflow_list, name="workflows"),
    api_path("global/workflows/preview", workflows.workflow_preview, name="workflow-preview"),
    api_path("global/advice", intelligence.advice, name="advice"),
    api_path("global/brain", brain.brain_page, name="brain"),
    api_path("global/settings", settings.settings_page, name="settings"),
    api_path("global/api-docs", docs.api_docs, name="api-docs"),
    api_path("console/palette", frame.palette_search, name="palette"),
    api_path("console/scope", frame.switch_business, name="scope"),
    # Per business, last: "<slug>/board" must never shadow a fixed path above.
    api_path("<slug:business>/board", business.board, name="board"),
    api_path("<slug:business>/epics", business.epics, name="epics"),
    api_path("<slug:business>/overview", business.overview, name="overview"),
]
