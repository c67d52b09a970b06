from django.core.management.base import BaseCommand

from mission_control import periodic


class Command(BaseCommand):
    help = "Register every app's periodic sweeps with django-celery-beat (idempotent)."

    def handle(self, *args, **options):
        names = periodic.sync()
        self.stdout.write(
            self.style.SUCCESS(f"{len(names)} periodic tasks registered: {', '.join(names) or '-'}")
        )
