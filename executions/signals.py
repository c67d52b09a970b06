"""``execution_finished(sender, execution)``: sent after commit when an execution becomes terminal
(success, failed, aborted). Workflows advance their runs on it; rollups and alerts listen too."""

from django.dispatch import Signal

execution_finished = Signal()
