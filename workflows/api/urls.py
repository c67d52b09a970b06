from mission_control.api.routing import api_path
from workflows.api import cron, workflows

urlpatterns = [
    # cron jobs (the calendar before <int:pk> so "calendar" is never read as an id)
    api_path("cron-jobs", cron.CronJobListView.as_view(), name="cron-job-list"),
    api_path("cron-jobs/calendar", cron.CronCalendarView.as_view(), name="cron-calendar"),
    api_path("cron-jobs/<int:pk>", cron.CronJobDetailView.as_view(), name="cron-job-detail"),
    api_path("cron-jobs/<int:pk>/run-now", cron.CronJobRunNowView.as_view(), name="cron-job-run-now"),
    api_path("cron-jobs/<int:pk>/pause", cron.CronJobPauseView.as_view(), name="cron-job-pause"),
    api_path("cron-jobs/<int:pk>/resume", cron.CronJobResumeView.as_view(), name="cron-job-resume"),
    api_path("cron-jobs/<int:pk>/runs", cron.CronJobRunsView.as_view(), name="cron-job-runs"),
    # workflows
    api_path("workflows", workflows.WorkflowListView.as_view(), name="workflow-list"),
    api_path("workflows/<int:pk>", workflows.WorkflowDetailView.as_view(), name="workflow-detail"),
    api_path(
        "workflows/<int:pk>/versions", workflows.WorkflowVersionsView.as_view(), name="workflow-versions"
    ),
    api_path("workflows/<int:pk>/runs", workflows.WorkflowRunsView.as_view(), name="workflow-runs"),
    api_path("workflows/<int:pk>/webhook", workflows.WorkflowWebhookView.as_view(), name="workflow-webhook"),
    api_path("hooks/workflows/<str:token>", workflows.WebhookTriggerView.as_view(), name="workflow-hook"),
    api_path("workflow-runs", workflows.WorkflowRunListView.as_view(), name="workflow-run-list"),
    api_path("workflow-runs/<int:pk>", workflows.WorkflowRunDetailView.as_view(), name="workflow-run-detail"),
    api_path(
        "workflow-runs/<int:pk>/cancel", workflows.WorkflowRunCancelView.as_view(), name="workflow-run-cancel"
    ),
    api_path(
        "workflow-runs/<int:pk>/rerun", workflows.WorkflowRunRerunView.as_view(), name="workflow-run-rerun"
    ),
]
