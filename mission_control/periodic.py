"""The periodic sweeps, registered in one place.

Each app declares ``periodic_tasks`` on its AppConfig: ``[("name", "dotted.task", seconds)]``.
``manage.py setup_periodic_tasks`` (run by ``serve`` and by the release step) turns them into
django-celery-beat rows, so beat's DatabaseScheduler fires them and admins can see and tune them.
"""

from django.apps import apps
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

PREFIX = "mc:"


def declared() -> list[tuple[str, str, int]]:
    found = []
    for config in apps.get_app_configs():
        found.extend(getattr(config, "periodic_tasks", []))
    return found


@transaction.atomic
def sync() -> list[str]:
    """Create or update every declared sweep; remove ours that are no longer declared."""
    names = []
    for name, task, seconds in declared():
        schedule, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.update_or_create(
            name=PREFIX + name,
            defaults={"task": task, "interval": schedule, "crontab": None, "enabled": True},
        )
        names.append(PREFIX + name)
    PeriodicTask.objects.filter(name__startswith=PREFIX).exclude(name__in=names).delete()
    return names
