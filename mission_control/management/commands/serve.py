"""``manage.py serve``: web (daphne), the Celery worker and beat, started and stopped together.

SIGINT (Ctrl+C) or SIGTERM stops all three at once and the process exits within ``STOP_S`` seconds,
children included: agents' long-polls answer at once, requests in flight get a moment to finish
(``mission_control.web``), the worker finishes the tasks it runs if it can in that time (tasks ack
late, so one cut short runs again) and beat sends nothing more.
"""

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from mission_control import shutdown

logger = logging.getLogger("mission_control.serve")

STOP_S = 4.0  # from the signal to the exit, everything included (dev.py allows 4.6)
# Once daphne has stopped, threads still running a request get this long, then the process exits.
EXIT_GRACE_S = 0.3
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop(Exception):
    """A stop signal arrived before daphne took the signals over."""


_signalled = []


def _raise_stop(signum, frame):
    if not _signalled:  # once: a second signal must not cut short the stop the first one began
        _signalled.append(signum)
        raise Stop(signal.Signals(signum).name)


_PRCTL = ctypes.CDLL(None).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM when serve dies, even by SIGKILL."""
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


class CeleryProcesses:
    """The worker and beat as child processes (REDIS_URL), each in its own process group: a
    Ctrl+C on the terminal reaches serve alone, which stops them once, in order."""

    def __init__(self, *, concurrency: int, beat: bool):
        celery = [sys.executable, "-m", "celery", "-A", "mission_control"]
        self.commands = [[*celery, "worker", "-l", "info", f"--concurrency={concurrency}"]]
        if beat:
            self.commands.append(
                [*celery, "beat", "-l", "info", "--scheduler", settings.CELERY_BEAT_SCHEDULER]
            )
        self.children: list[subprocess.Popen] = []
        self.stopping = False

    def start(self) -> None:
        for command in self.commands:
            self.children.append(
                subprocess.Popen(command, start_new_session=True, preexec_fn=_die_with_parent)
            )

    def stop(self) -> None:
        # Once: a second SIGTERM finds beat in its own exit and makes it print a traceback.
        if self.stopping:
            return
        self.stopping = True
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)  # warm shutdown: running tasks may finish

    def kill(self) -> None:
        for child in self.children:
            # The whole group: a prefork worker's pool processes go with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for child in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(max(deadline - time.monotonic(), 0))
        late = [child for child in self.children if child.poll() is None]
        for child in late:
            logger.warning("%s did not stop in time; killed", "celery " + child.args[5])
        self.kill()
        for child in self.children:
            child.wait()
        return not late


class Command(BaseCommand):
    help = (
        "Run web (daphne), the Celery worker and beat together; Ctrl+C or SIGTERM stops all of them "
        "within a few seconds. Embedded default (no DATABASE_URL/REDIS_URL): one process, the worker "
        "and beat as threads. With REDIS_URL: the worker and beat as child processes. With DEBUG=0 it "
        "collects the static files first."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--host",
            default=os.environ.get("HOST", "127.0.0.1"),
            help="address to listen on; 0.0.0.0 for every interface (default: $HOST or %(default)s)",
        )
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("PORT", "8000")),
            help="port to listen on (default: $PORT or %(default)s)",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=4,
            help="tasks the worker runs at once: threads embedded, processes with REDIS_URL "
            "(default: %(default)s)",
        )
        parser.add_argument(
            "--no-beat",
            action="store_true",
            help="run no beat here (another process schedules the periodic sweeps)",
        )

    def handle(self, *args, host, port, concurrency, no_beat, **options):
        # Until daphne takes the signals over, and again after it lets them go, a stop signal ends
        # the start-up quietly (a process started in the background may have SIGINT ignored).
        for sig in STOP_SIGNALS:
            signal.signal(sig, _raise_stop)
        stopper = Stopper(self.stdout)
        ok = False
        try:
            self._announce()
            if not settings.DEBUG and not settings.TESTING:
                call_command("collectstatic", interactive=False, verbosity=0)
            call_command("setup_periodic_tasks")
            if settings.EMBEDDED or settings.CELERY_BROKER_URL.startswith("memory://"):
                from mission_control.embedded import EmbeddedCelery

                stopper.background = EmbeddedCelery(concurrency=concurrency, beat=not no_beat)
            else:
                stopper.background = CeleryProcesses(concurrency=concurrency, beat=not no_beat)
            stopper.background.start()
            self.stdout.write(
                self.style.SUCCESS(
                    f"Mission Control on http://{host}:{port}/  (admin: /admin/, API docs: /api/docs/)"
                )
            )
            self.stdout.flush()
            ok = self._run_daphne(host, port, on_stop=stopper.begin)
        except Stop:
            ok = True
        finally:
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)  # one stop at a time: a second signal changes nothing
            stopper.finish(code=0 if ok else 1)  # exits

    def _announce(self) -> None:
        if settings.EMBEDDED:
            self.stdout.write(
                f"Embedded default: SQLite at {settings.DATABASES['default']['NAME']}, Celery on the "
                "in-process memory:// broker, Channels on the in-memory layer. Set DATABASE_URL and "
                "REDIS_URL for production."
            )

    @staticmethod
    def _run_daphne(host: str, port: int, on_stop) -> bool:
        """Serve until stopped; False when daphne could not listen (the port is taken)."""
        from daphne.cli import CommandLineInterface

        from mission_control.web import DrainingServer

        cli = CommandLineInterface()
        cli.server_class = DrainingServer.with_stop_hook(on_stop)
        cli.run(["-b", host, "-p", str(port), "mission_control.asgi:application"])
        return not getattr(cli.server, "listen_failed", False)


class Stopper:
    """One stop, bounded: from ``begin()`` the process is gone within ``STOP_S`` whatever happens.

    ``begin()`` (daphne starts stopping, or a signal during start-up) ends the requests' waits and
    starts stopping the worker and beat at once, not after daphne; ``finish()`` waits for them and
    exits. The exit skips the interpreter's own teardown, which took seconds with the PostgreSQL
    pool and could wait forever on a request thread blocked on the stopped event loop; everything
    serve started is stopped by then. A watchdog holds the deadline if ``finish()`` is late.
    """

    def __init__(self, stdout):
        self.stdout = stdout
        self.background = None  # EmbeddedCelery or CeleryProcesses: start, stop, join, kill
        self.started_at: float | None = None
        self.exit_by = 0.0
        self.code = 0

    def begin(self) -> None:
        if self.started_at is None:
            self.started_at = time.monotonic()
            self.exit_by = self.started_at + STOP_S
            logger.info("stopping")
            shutdown.begin()
            threading.Thread(target=self._watchdog, name="serve-exit", daemon=True).start()
        if self.background is not None:
            self.background.stop()

    def finish(self, *, code: int) -> None:
        self.code = code
        self.begin()
        if self.background is not None:
            self.background.join(self.exit_by - time.monotonic() - EXIT_GRACE_S)
        # Daphne has stopped: a request still running can no longer be answered; a moment to end.
        grace_end = min(self.exit_by, time.monotonic() + EXIT_GRACE_S)
        for thread in self._request_threads():
            thread.join(max(grace_end - time.monotonic(), 0))
        self._exit()

    def _watchdog(self) -> None:
        while time.monotonic() < self.exit_by:
            time.sleep(0.05)
        self._exit()

    def _exit(self) -> None:
        if self.background is not None:
            self.background.kill()
        if busy := self._request_threads():
            logger.info("stopped without waiting for %d request thread(s)", len(busy))
        self.stdout.write("Mission Control stopped.")
        self.stdout.flush()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(self.code)

    @staticmethod
    def _request_threads() -> list[threading.Thread]:
        return [
            t
            for t in threading.enumerate()
            if not t.daemon and t is not threading.main_thread() and t is not threading.current_thread()
        ]
