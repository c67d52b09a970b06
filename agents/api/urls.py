from agents.api import agent_side, views
from mission_control.api.routing import api_path

urlpatterns = [
    api_path("agents", views.AgentListView.as_view(), name="agent-list"),
    api_path("agents/<int:pk>", views.AgentDetailView.as_view(), name="agent-detail"),
    api_path("agents/<int:pk>/start", views.AgentStartView.as_view(), name="agent-start"),
    api_path("agents/<int:pk>/stop", views.AgentStopView.as_view(), name="agent-stop"),
    api_path("agents/<int:pk>/restart", views.AgentRestartView.as_view(), name="agent-restart"),
    api_path("agents/<int:pk>/scale", views.AgentScaleView.as_view(), name="agent-scale"),
    api_path("agents/<int:pk>/commands", views.AgentCommandListView.as_view(), name="agent-commands"),
    api_path("agents/<int:pk>/keys", views.AgentKeyListView.as_view(), name="agent-keys"),
    api_path("agents/<int:pk>/keys/<int:key_id>", views.AgentKeyDetailView.as_view(), name="agent-key"),
    api_path("agent/heartbeat", agent_side.HeartbeatView.as_view(), name="agent-heartbeat"),
    api_path("agent/commands/<int:pk>/ack", agent_side.CommandAckView.as_view(), name="agent-command-ack"),
]
