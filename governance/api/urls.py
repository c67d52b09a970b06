from governance.api import views
from mission_control.api.routing import api_path

urlpatterns = [
    api_path("auth/token", views.TokenView.as_view(), name="auth-token"),
    api_path("auth/tokens", views.TokenListView.as_view(), name="auth-tokens"),
    api_path("auth/tokens/<int:pk>", views.TokenDetailView.as_view(), name="auth-token-detail"),
    api_path("businesses", views.BusinessListView.as_view(), name="business-list"),
    api_path("businesses/<slug:slug>", views.BusinessDetailView.as_view(), name="business-detail"),
    api_path("businesses/<slug:slug>/members", views.MemberListView.as_view(), name="business-members"),
    api_path(
        "businesses/<slug:slug>/members/<str:username>",
        views.MemberDetailView.as_view(),
        name="business-member",
    ),
]
