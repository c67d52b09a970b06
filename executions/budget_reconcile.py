"""The budget reconciliation sweep: no hold outlives its work, and every window adds up.

1. Leaked holds: a ``reserved`` reservation of an execution that has ended (its settle was lost)
   is settled now, with the execution's recorded cost, which also books the spend it was missing.
2. Windows: ``reserved = live holds`` and ``spent = settlements`` are proven per window from the
   reservation lines (:mod:`governance.reconcile`) and repaired where they drifted.
3. Live work without a hold is reported (starting work always holds; one without is a bug to see).

Each business with drift gets one ``budget.reconciled`` event and an audit entry saying what was
found and repaired; the log says it too. Idempotent: a second sweep finds nothing.
"""

import logging
from collections import defaultdict

from django.db import transaction

from executions.lifecycle import budget_ref, lock_execution, settle_budget
from executions.models import TERMINAL, Execution
from governance import audit
from governance.models import BudgetReservation, Business, ReservationStatus
from governance.reconcile import repair_windows, window_drift
from mission_control.conflicts import retrying
from mission_control.events import publish

logger = logging.getLogger(__name__)

REF_PREFIX = "execution:"
BATCH = 1000


def leaked_holds() -> list[int]:
    """Ids of ended executions whose budget hold is still reserved."""
    refs = BudgetReservation.objects.filter(
        status=ReservationStatus.RESERVED, ref__startswith=REF_PREFIX
    ).values_list("ref", flat=True)
    ids = [int(ref[len(REF_PREFIX) :]) for ref in refs[:BATCH] if ref[len(REF_PREFIX) :].isdigit()]
    return list(
        Execution.objects.filter(pk__in=ids, status__in=TERMINAL).order_by("pk").values_list("pk", flat=True)
    )


def live_without_hold() -> list[int]:
    """Ids of pending or running executions with no reservation at all."""
    live = list(Execution.objects.active().order_by("pk").values_list("pk", flat=True)[: BATCH * 10])
    held = set(
        BudgetReservation.objects.filter(ref__in=[budget_ref(pk) for pk in live]).values_list(
            "ref", flat=True
        )
    )
    return [pk for pk in live if budget_ref(pk) not in held]


@retrying
def settle_leaked(execution_id: int) -> bool:
    """Settle the hold of an ended execution (windows, then the execution, then the reservation)."""
    with transaction.atomic():
        row = lock_execution(execution_id)
        if row is None or not row.is_terminal:
            return False
        still = (
            BudgetReservation.objects.select_for_update(no_key=True)
            .filter(ref=budget_ref(row.pk), status=ReservationStatus.RESERVED)
            .exists()
        )
        if still:
            settle_budget(row)
        return still


def reconcile(*, repair: bool = True) -> dict:
    """Find (and by default repair) budget drift; returns a report of what was found."""
    leaked = leaked_holds()
    settled = [pk for pk in leaked if settle_leaked(pk)] if repair else leaked
    drifts = window_drift()
    repaired = repair_windows([d.window for d in drifts]) if repair and drifts else drifts
    missing = live_without_hold()
    report = {
        "leaked_holds": settled,
        "windows": [d.as_dict() for d in repaired],
        "live_without_hold": missing,
        "repaired": repair,
    }
    if settled or repaired or missing:
        logger.warning(
            "budget reconciliation: %d leaked hold(s) %s, %d window(s) drifted, %d live execution(s) without a hold",
            len(settled),
            "settled" if repair else "found",
            len(repaired),
            len(missing),
        )
        if repair:
            _announce(settled, repaired, missing)
    return report


def _announce(settled: list[int], drifts, missing: list[int]) -> None:
    by_business: dict[int, dict] = defaultdict(
        lambda: {"leaked_holds": [], "windows": [], "live_without_hold": []}
    )
    for pk, business_id in Execution.objects.filter(pk__in=settled + missing).values_list(
        "pk", "business_id"
    ):
        by_business[business_id]["leaked_holds" if pk in settled else "live_without_hold"].append(pk)
    for drift in drifts:
        by_business[drift.business]["windows"].append(drift.as_dict())
    businesses = Business.objects.in_bulk(list(by_business))
    with transaction.atomic():
        for business_id, found in by_business.items():
            business = businesses.get(business_id)
            if business is None:
                continue
            message = (
                f"Budget reconciliation repaired {len(found['leaked_holds'])} leaked hold(s) and "
                f"{len(found['windows'])} window(s); {len(found['live_without_hold'])} live execution(s) hold nothing"
            )
            publish(kind="budget.reconciled", business=business, actor="system", message=message, data=found)
            audit.record(
                actor="system",
                action="budget.reconcile",
                business=business,
                target_type="business",
                target_id=business.pk,
                after=found,
                reason="reconciliation sweep",
            )
