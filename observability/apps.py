from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Observability"
    default_auto_field = "django.db.models.BigAutoField"
    demo_seed = "observability.demo.seed"
    periodic_tasks = [
        ("observability.catch_up_rollups", "observability.tasks.catch_up_rollups", 300),
        ("observability.evaluate_alerts", "observability.tasks.evaluate_alerts", 60),
        ("observability.detect_anomalies", "observability.tasks.detect_anomalies", 900),
    ]

    def ready(self) -> None:
        from executions.routing import use_figures
        from governance.selectors import use_burn_rates

        # tasks: registers the Celery entry points, which services enqueue by name (see executions).
        from observability import receivers, tasks  # noqa: F401  (connects to execution_finished)
        from observability.projections import burn_rates
        from observability.routing_figures import agent_figures

        use_burn_rates(burn_rates)  # budgets everywhere project at the rollups' trailing burn rate
        use_figures(agent_figures)  # the router reads the rollups, not the ledger (executions/routing.py)
