from django.apps import AppConfig


class BoardConfig(AppConfig):
    """The task board: epics, tasks with dependencies, comments, and agents claiming ready tasks."""

    name = "board"
    default_auto_field = "django.db.models.BigAutoField"
    demo_seed = "board.demo.seed"
