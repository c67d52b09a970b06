from django.apps import AppConfig


class BrainConfig(AppConfig):
    """The brain: versioned documents, agents' own memory and their business's shared knowledge."""

    name = "brain"
    default_auto_field = "django.db.models.BigAutoField"
    demo_seed = "brain.demo.seed"
