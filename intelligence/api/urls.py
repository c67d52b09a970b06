from intelligence.api import views
from mission_control.api.routing import api_path

urlpatterns = [
    api_path("predictions", views.PredictionListView.as_view(), name="prediction-list"),
    api_path("prediction-models", views.PredictionModelListView.as_view(), name="prediction-model-list"),
]
