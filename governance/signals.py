"""Signals governance sends so that the apps above it can act without governance importing them.

- ``emergency_stop_engaged(sender, stop, business_id)``: business_id None means global. Receivers:
  executions aborts running work in scope through its abort path; agents queue stop commands;
  workflows hold cron firing.
- ``emergency_stop_released(sender, stop, business_id)``: receivers restore exactly what was running
  or enabled before the stop.
- ``budget_crossed(sender, budget, kind, message)``: after commit, the first time a budget's window
  reaches its soft limit (``budget.soft_limit``) or its limit (``budget.exceeded``); the event is
  already recorded. Observability mails the owners and admins through its notification task, which
  retries: no mail server is ever waited on in the request (an agent's report) that crossed it.
"""

from django.dispatch import Signal

emergency_stop_engaged = Signal()
emergency_stop_released = Signal()
budget_crossed = Signal()
