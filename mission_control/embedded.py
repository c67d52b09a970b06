"""The embedded default's worker and beat: real Celery, run as threads of the web process.

With the ``memory://`` broker a queue lives inside one process, so ``manage.py serve`` runs the
worker and beat beside daphne in that process. It is still Celery consuming and beat's
DatabaseScheduler firing: no home-made scheduler or queue.
"""

import logging
import threading

from celery.beat import Service
from django.db import close_old_connections

from mission_control.celery import app

logger = logging.getLogger(__name__)


class EmbeddedCelery:
    """The worker and (optionally) beat threads, started together and stopped together.

    ``stop()`` only begins the stop (beat first, so nothing new is sent; then a warm worker
    shutdown that lets running tasks finish) and returns at once; ``join(timeout)`` waits for it.
    """

    def __init__(self, *, concurrency: int = 4, beat: bool = True):
        self.concurrency = concurrency
        self.worker = app.WorkController(
            app=app,
            pool_cls="threads",
            concurrency=concurrency,
            loglevel="INFO",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            hostname="embedded@localhost",
        )
        self.beat = (
            Service(app, scheduler_cls="django_celery_beat.schedulers:DatabaseScheduler") if beat else None
        )
        self._threads: list[threading.Thread] = []
        self._stopper: threading.Thread | None = None

    def start(self) -> None:
        self._spawn("celery-worker", self.worker.start)
        logger.info("embedded Celery worker started (%s threads)", self.concurrency)
        if self.beat is not None:
            self._spawn("celery-beat", self._run_beat)
            logger.info("embedded Celery beat started (DatabaseScheduler)")

    def stop(self) -> None:
        if self._stopper is not None:
            return
        if self.beat is not None:
            self.beat.stop()  # beat sleeps at most its max interval, then leaves its loop
        self._stopper = threading.Thread(target=self._stop_worker, name="celery-stop", daemon=True)
        self._stopper.start()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the worker to finish; True when it did."""
        if self._stopper is None:
            return True
        self._stopper.join(max(timeout, 0))
        return not self._stopper.is_alive()

    def kill(self) -> None:
        """Nothing to kill: the threads are daemons and end with the process."""

    def _spawn(self, name: str, target) -> None:
        # Daemons: a task that will not end must not keep the process alive after serve's deadline.
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _run_beat(self) -> None:
        close_old_connections()
        self.beat.start()

    def _stop_worker(self) -> None:
        self.worker.stop(in_sighandler=False, exitcode=0)
