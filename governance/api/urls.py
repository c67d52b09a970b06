from governance.api import budgets, controls, policies, views
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
    api_path("budgets", budgets.BudgetListView.as_view(), name="budget-list"),
    api_path("budgets/<int:pk>", budgets.BudgetDetailView.as_view(), name="budget-detail"),
    api_path("policies", policies.PolicyListView.as_view(), name="policy-list"),
    api_path("policies/<int:pk>", policies.PolicyDetailView.as_view(), name="policy-detail"),
    api_path("emergency-stop", controls.EmergencyStopView.as_view(), name="emergency-stop"),
    api_path(
        "emergency-stop/release", controls.EmergencyStopReleaseView.as_view(), name="emergency-stop-release"
    ),
    api_path("audit", controls.AuditListView.as_view(), name="audit-list"),
]
