"""The ledger's answers to other apps' signals."""

import logging

from django.dispatch import receiver

from executions.abort import abort_execution
from executions.models import Execution
from governance.signals import emergency_stop_engaged
from mission_control.errors import DomainError

logger = logging.getLogger(__name__)


@receiver(emergency_stop_engaged, dispatch_uid="executions.abort_on_emergency_stop")
def abort_work_in_scope(sender, stop, business_id=None, **kwargs) -> int:
    """Abort every pending or running execution the stop covers, through the normal abort path:
    pending ones at once, running ones via their agent and then forcibly after the grace period."""
    live = Execution.objects.active()
    if business_id is not None:
        live = live.filter(business_id=business_id)
    reason = f"Emergency stop: {getattr(stop, 'reason', '') or 'engaged'}."
    aborted = 0
    for execution in live.only("pk", "status").order_by("id").iterator(chunk_size=500):
        try:
            abort_execution(execution=execution, actor="system", reason=reason)
            aborted += 1
        except DomainError:
            pass  # it finished in the meantime
    logger.info("emergency stop %s: aborting %s execution(s)", getattr(stop, "pk", "?"), aborted)
    return aborted
