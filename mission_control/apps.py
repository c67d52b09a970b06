import logging
import os

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("mission_control")


class MissionControlConfig(AppConfig):
    name = "mission_control"
    verbose_name = "Mission Control"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mission_control import checks  # noqa: F401  (registers system checks)
        from mission_control.api import schema  # noqa: F401  (registers OpenAPI auth schemes)

        if settings.EMBEDDED and not settings.TESTING and not os.environ.get("MC_EMBEDDED_ANNOUNCED"):
            # Said once per process tree: child processes inherit the variable.
            os.environ["MC_EMBEDDED_ANNOUNCED"] = "1"
            logger.info(
                "Embedded default: SQLite at %s, Celery on the in-process memory:// broker, "
                "Channels on the in-memory layer. Set DATABASE_URL and REDIS_URL for production.",
                settings.DATABASES["default"]["NAME"],
            )
