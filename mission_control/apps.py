from django.apps import AppConfig


class MissionControlConfig(AppConfig):
    name = "mission_control"
    verbose_name = "Mission Control"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mission_control import checks  # noqa: F401  (registers system checks)
        from mission_control.api import schema  # noqa: F401  (registers OpenAPI auth schemes)
