from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"
    default_auto_field = "django.db.models.BigAutoField"
    demo_seed = "executions.demo.seed"  # after agents' seed, which puts ``agents`` in the context
    periodic_tasks = [
        ("executions.timeouts", "executions.tasks.sweep_timeouts", 15),
        ("executions.force_aborts", "executions.tasks.sweep_aborts", 10),
        ("executions.redispatch", "executions.tasks.redispatch_stale", 30),
        ("executions.reconcile_budgets", "executions.tasks.reconcile_budgets", 300),
        # Idempotent and cheap; three months ahead, so hours of beat outage change nothing.
        ("executions.ensure_partitions", "executions.tasks.ensure_partitions", 6 * 3600),
    ]

    def ready(self) -> None:
        # Registers the Celery entry points in every process: services enqueue them by name (they
        # never import tasks.py, which sits on top of the app), and eager mode (tests) runs a task
        # by name only when it is registered.
        from executions import receivers, tasks  # noqa: F401  (connects signal receivers)
