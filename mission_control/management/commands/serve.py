import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Run web (daphne), worker and beat together. Embedded default: one process, the worker and "
        "beat as threads. With REDIS_URL: the worker and beat as child processes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--concurrency", type=int, default=4)
        parser.add_argument("--no-beat", action="store_true")

    def handle(self, *args, host, port, concurrency, no_beat, **options):
        # A process started in the background by a non-interactive shell inherits SIGINT as ignored,
        # and then daphne's reactor would not take over Ctrl+C; restore the default first.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        call_command("setup_periodic_tasks")
        children: list[subprocess.Popen] = []
        if settings.EMBEDDED or settings.CELERY_BROKER_URL.startswith("memory://"):
            from mission_control import embedded

            embedded.start_worker(concurrency)
            if not no_beat:
                embedded.start_beat()
        else:
            celery = [sys.executable, "-m", "celery", "-A", "mission_control"]
            children.append(
                subprocess.Popen([*celery, "worker", "-l", "info", f"--concurrency={concurrency}"])
            )
            if not no_beat:
                children.append(
                    subprocess.Popen(
                        [*celery, "beat", "-l", "info", "--scheduler", settings.CELERY_BEAT_SCHEDULER]
                    )
                )
        self.stdout.write(
            self.style.SUCCESS(
                f"Mission Control on http://{host}:{port}/  (admin: /admin/, API docs: /api/docs/)"
            )
        )
        from daphne.cli import CommandLineInterface

        try:
            CommandLineInterface().run(["-b", host, "-p", str(port), "mission_control.asgi:application"])
        finally:
            for child in children:
                child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
