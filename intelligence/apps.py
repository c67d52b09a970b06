from django.apps import AppConfig


class IntelligenceConfig(AppConfig):
    """Failure prediction and workflow/schedule advice. Reads the ledger, presence and the
    observability figures; nothing below imports it (the console, on top, shows it)."""

    name = "intelligence"
    verbose_name = "Intelligence"
    default_auto_field = "django.db.models.BigAutoField"
    demo_seed = "intelligence.demo.seed"
    periodic_tasks = [
        ("intelligence.score_failures", "intelligence.tasks.score_failures", 120),
        ("intelligence.train_failure_models", "intelligence.tasks.train_failure_models", 6 * 3600),
        ("intelligence.refresh_suggestions", "intelligence.tasks.refresh_suggestions", 3600),
    ]

    def ready(self) -> None:
        from intelligence.alert_check import register

        register()  # the ``agent_at_risk`` alert rule kind reads this app's predictions
