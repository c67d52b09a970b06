from board.api import views
from mission_control.api.routing import api_path

urlpatterns = [
    api_path("epics", views.EpicListView.as_view(), name="epic-list"),
    api_path("epics/<int:pk>", views.EpicDetailView.as_view(), name="epic-detail"),
    api_path("tasks", views.TaskListView.as_view(), name="task-list"),
    api_path("tasks/<int:pk>", views.TaskDetailView.as_view(), name="task-detail"),
    api_path("tasks/<int:pk>/comments", views.TaskCommentsView.as_view(), name="task-comments"),
    api_path("agent/tasks/claim", views.AgentTaskClaimView.as_view(), name="agent-task-claim"),
]
