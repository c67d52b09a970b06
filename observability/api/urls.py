from mission_control.api.routing import api_path
from observability.api import alerts, dashboards

urlpatterns = [
    api_path("dashboard/summary", dashboards.SummaryView.as_view(), name="dashboard-summary"),
    api_path("dashboard/agents", dashboards.AgentsView.as_view(), name="dashboard-agents"),
    api_path("dashboard/costs", dashboards.CostsView.as_view(), name="dashboard-costs"),
    api_path("dashboard/projection", dashboards.ProjectionView.as_view(), name="dashboard-projection"),
    api_path("dashboard/workload", dashboards.WorkloadView.as_view(), name="dashboard-workload"),
    api_path("anomalies", alerts.AnomalyListView.as_view(), name="anomaly-list"),
    api_path("alerts", alerts.AlertListView.as_view(), name="alert-list"),
    api_path("alert-rules", alerts.AlertRuleListView.as_view(), name="alert-rule-list"),
    api_path("alert-rules/<int:pk>", alerts.AlertRuleDetailView.as_view(), name="alert-rule-detail"),
]
