from brain.api import views
from mission_control.api.routing import api_path

urlpatterns = [
    api_path("brain/documents", views.DocumentListView.as_view(), name="brain-document-list"),
    api_path("brain/documents/<int:pk>", views.DocumentDetailView.as_view(), name="brain-document"),
    api_path(
        "brain/documents/<int:pk>/versions",
        views.DocumentVersionsView.as_view(),
        name="brain-document-versions",
    ),
]
