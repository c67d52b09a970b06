from executions.api import agent_runs, agent_settings, routing, views
from mission_control.api.routing import api_path

urlpatterns = [
    api_path("executions", views.ExecutionListView.as_view(), name="execution-list"),
    api_path("executions/batch", views.BatchView.as_view(), name="execution-batch"),
    api_path("executions/export", views.ExportView.as_view(), name="execution-export"),
    api_path("executions/route", routing.RouteView.as_view(), name="execution-route"),
    api_path(
        "businesses/<slug:slug>/routing", routing.RoutingSettingsView.as_view(), name="business-routing"
    ),
    api_path("executions/<int:pk>", views.ExecutionDetailView.as_view(), name="execution-detail"),
    api_path("executions/<int:pk>/logs", views.ExecutionLogsView.as_view(), name="execution-logs"),
    api_path("executions/<int:pk>/abort", views.AbortView.as_view(), name="execution-abort"),
    api_path("executions/<int:pk>/replay", views.ReplayView.as_view(), name="execution-replay"),
    api_path("agent/executions/claim", views.ClaimView.as_view(), name="execution-claim"),
    api_path("hooks/<str:token>", views.HookView.as_view(), name="execution-hook"),
    api_path("agents/<int:pk>/run", agent_runs.AgentRunView.as_view(), name="agent-run"),
    api_path("agents/<int:pk>/webhook", agent_settings.AgentWebhookView.as_view(), name="agent-webhook"),
    api_path(
        "agents/<int:pk>/signing-secret",
        agent_settings.AgentSigningSecretView.as_view(),
        name="agent-signing-secret",
    ),
    api_path(
        "agents/<int:pk>/run-settings",
        agent_settings.AgentRunSettingsView.as_view(),
        name="agent-run-settings",
    ),
]
