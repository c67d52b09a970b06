from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """Registers ``manage.py simulate``; no models, no URLs, nothing the server runs."""

    name = "simulator"
    default_auto_field = "django.db.models.BigAutoField"
