from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "agents"
    default_auto_field = "django.db.models.BigAutoField"
    demo_seed = "agents.demo.seed"
    periodic_tasks = [
        ("agents.sweep_presence", "agents.tasks.sweep_presence", 15),
        ("agents.flush_presence", "agents.tasks.flush_presence", 5),
    ]

    def ready(self) -> None:
        from agents import receivers  # noqa: F401  (connects the emergency stop receivers)
