"""Signals the ledger sends after commit, so that apps above it act without being imported here.

``execution_finished(sender, execution, retry, batch)``: whenever an execution becomes terminal
(success, failed, aborted). ``retry`` is the next attempt when a retry policy started one (else
None): a listener then waits for that attempt. ``batch`` is True for rows of a batch report.
Workflows advance their runs on it; rollups and alerts listen too.

``executions_batch_finished(sender, executions)``: once per batch report, with its terminal rows.
A receiver that can handle many rows at once (rollups) may listen here and skip ``batch`` rows
above: a per-row receiver costs every row of a 1000-row batch one more transaction.

``cost_corrected(sender, correction)``: a terminal execution got a better cost (a ``CostCorrection``).
"""

from django.dispatch import Signal

execution_finished = Signal()
executions_batch_finished = Signal()
cost_corrected = Signal()
