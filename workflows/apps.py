from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    default_auto_field = "django.db.models.BigAutoField"
    demo_seed = "workflows.demo.seed"
    periodic_tasks = [
        ("workflows.sweep_cron", "workflows.tasks.sweep_cron", 30),
        ("workflows.sweep_workflow_runs", "workflows.tasks.sweep_workflow_runs", 10),
    ]

    def ready(self) -> None:
        # tasks: registers the Celery entry points, which services enqueue by name (see executions).
        from workflows import receivers, tasks  # noqa: F401  (connects the signal receivers)
