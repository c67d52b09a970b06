from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    default_auto_field = "django.db.models.BigAutoField"
    demo_seed = "governance.demo.seed"

    def ready(self) -> None:
        from governance import receivers  # noqa: F401  (open sockets re-check on access changes)
