from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from mission_control.health import run_checks


class HealthView(APIView):
    """Liveness and dependencies: 200 when all are ok, 503 naming the failing ones."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "Health",
            {
                "status": serializers.CharField(),
                "checks": serializers.DictField(),
                "failing": serializers.ListField(
                    required=False, help_text="503 only: the checks that failed"
                ),
            },
        )
    )
    def get(self, request):
        checks = run_checks()
        failing = [name for name, result in checks.items() if result != "ok"]
        if failing:
            return Response(
                {
                    "status": "error",
                    "error": "dependency_down",
                    "detail": f"Unavailable: {', '.join(failing)}.",
                    "failing": failing,
                    "checks": checks,
                },
                status=503,
            )
        return Response({"status": "ok", "checks": checks})
