from django.apps import AppConfig
from django.conf import settings


class AutoscalingConfig(AppConfig):
    """Scales agents on their queues (HPA-like). Sits above executions and the board, whose figures it
    reads, and scales through ``agents.services.scale_agent``, the operator's own verb."""

    name = "autoscaling"
    verbose_name = "Autoscaling"
    default_auto_field = "django.db.models.BigAutoField"
    demo_seed = "autoscaling.demo.seed"  # after workflows' seed: the burst is a workflow on a cron job
    periodic_tasks = [
        ("autoscaling.evaluate", "autoscaling.tasks.evaluate_policies", settings.MC_AUTOSCALE_PERIOD_S)
    ]
