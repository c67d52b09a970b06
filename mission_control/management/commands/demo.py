from django.core.management.base import BaseCommand

from mission_control.demo import seed_all


class Command(BaseCommand):
    help = "Seed the demo: an admin, a business, a fleet of agents with keys, jobs, workflows, history. Idempotent."

    def handle(self, *args, **options):
        seed_all(self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
