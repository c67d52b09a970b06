"""The Celery app. Tasks live in each app's ``tasks.py`` and are found by autodiscovery."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mission_control.settings")

app = Celery("mission_control")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_contexts: dict[str, object] = {}


@task_prerun.connect
def _bind_log_context(task_id=None, task=None, **kwargs):
    """Log lines written by a task carry its id where a request would carry the request id."""
    from mission_control.logging import log_context

    ctx = log_context(request_id=f"task:{task_id}")
    ctx.__enter__()
    _contexts[task_id] = ctx


@task_postrun.connect
def _unbind_log_context(task_id=None, **kwargs):
    ctx = _contexts.pop(task_id, None)
    if ctx is not None:
        ctx.__exit__(None, None, None)
