from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class MissionControlConfig(AppConfig):
    name = "mission_control"
    verbose_name = "Mission Control"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Before any database connection or static file lookup: the embedded SQLite file and
        # WhiteNoise's STATIC_ROOT live under VAR_DIR (settings only name the folders).
        for folder in (settings.VAR_DIR, settings.STATIC_ROOT):
            Path(folder).mkdir(parents=True, exist_ok=True)
        from mission_control import checks  # noqa: F401  (registers system checks)
        from mission_control.api import schema  # noqa: F401  (registers OpenAPI auth schemes)
