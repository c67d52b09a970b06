"""Signals the workflow engine sends, so that what started a run hears it end without the engine
importing it.

``workflow_run_finished(sender, run)``: after commit, whenever a run becomes terminal (success,
failed, cancelled). Cron firing listens to settle the cron run that started it.
"""

from django.dispatch import Signal

workflow_run_finished = Signal()
