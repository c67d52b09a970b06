from intelligence.api import suggestions, views
from mission_control.api.routing import api_path

urlpatterns = [
    api_path("predictions", views.PredictionListView.as_view(), name="prediction-list"),
    api_path("suggestions", suggestions.SuggestionListView.as_view(), name="suggestion-list"),
    api_path(
        "suggestions/<int:pk>/apply", suggestions.SuggestionApplyView.as_view(), name="suggestion-apply"
    ),
    api_path(
        "suggestions/<int:pk>/dismiss", suggestions.SuggestionDismissView.as_view(), name="suggestion-dismiss"
    ),
    api_path("prediction-models", views.PredictionModelListView.as_view(), name="prediction-model-list"),
]
