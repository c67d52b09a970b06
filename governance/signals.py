"""Signals governance sends so that the apps above it can act without governance importing them.

- ``emergency_stop_engaged(sender, stop, business_id)``: business_id None means global. Receivers:
  executions aborts running work in scope through its abort path; agents queue stop commands;
  workflows hold cron firing.
- ``emergency_stop_released(sender, stop, business_id)``: receivers restore exactly what was running
  or enabled before the stop.
"""

from django.dispatch import Signal

emergency_stop_engaged = Signal()
emergency_stop_released = Signal()
