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


def start_worker(concurrency: int = 4) -> threading.Thread:
    worker = app.WorkController(
        app=app,
        pool_cls="threads",
        concurrency=concurrency,
        loglevel="INFO",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        hostname="embedded@localhost",
    )
    thread = threading.Thread(target=worker.start, name="celery-worker", daemon=True)
    thread.start()
    logger.info("embedded Celery worker started (%s threads)", concurrency)
    return thread


def start_beat() -> threading.Thread:
    service = Service(app, scheduler_cls="django_celery_beat.schedulers:DatabaseScheduler")

    def run():
        close_old_connections()
        service.start()

    thread = threading.Thread(target=run, name="celery-beat", daemon=True)
    thread.start()
    logger.info("embedded Celery beat started (DatabaseScheduler)")
    return thread
