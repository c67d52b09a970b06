from autoscaling.api import views
from mission_control.api.routing import api_path

urlpatterns = [
    api_path("agents/<int:pk>/autoscale", views.PolicyView.as_view(), name="agent-autoscale"),
    api_path(
        "agents/<int:pk>/autoscale/decisions",
        views.DecisionListView.as_view(),
        name="agent-autoscale-decisions",
    ),
]
