"""Demo data, seeded by ``manage.py demo``. Each app declares ``demo_seed = "app.demo.seed"`` on its
AppConfig; seeds run in INSTALLED_APPS order and share a context dict (the demo business, users,
agents...), so the bus knows no app and each app owns its own demo."""

from django.apps import apps
from django.utils.module_loading import import_string


def seed_all(stdout) -> dict:
    context: dict = {"stdout": stdout}
    for config in apps.get_app_configs():
        dotted = getattr(config, "demo_seed", None)
        if dotted:
            stdout.write(f"Seeding {config.label}…")
            import_string(dotted)(context)
    return context
