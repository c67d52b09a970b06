"""Budget reconciliation: prove each window's totals from its reservation lines, repair drift.

Per window, two identities hold when nothing is lost:

- ``reserved_usd = sum of the amounts its live (``reserved``) reservations hold there``
- ``spent_usd = opening_spent_usd + sum of what its settled reservations booked there``

:func:`window_drift` checks them for many windows in one aggregate query; :func:`repair_window`
re-checks one under its row lock (so no reserve or settle is half-way through it) and writes the
proven figures back. Which reservations are leaked holds (their work ended) is for the app that
owns the work to say: see ``executions.budget_reconcile``.
"""

from dataclasses import asdict, dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from governance.models import BudgetWindow, ReservationLine, ReservationStatus
from mission_control import control_versions

# Closed windows stay checked this long after they end (a late settle may still land there).
RECENT = timedelta(days=7)
ZERO = Decimal(0)
USD_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class WindowDrift:
    window: int
    budget: int
    business: int
    reserved_usd: Decimal
    expected_reserved_usd: Decimal
    spent_usd: Decimal
    expected_spent_usd: Decimal

    def as_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(self).items()}


def windows_to_check(now=None):
    """Open and recently closed windows, and any window still holding money."""
    now = now or timezone.now()
    return BudgetWindow.objects.filter(Q(window_end__gt=now - RECENT) | ~Q(reserved_usd=0))


def _line_totals(window_ids: list[int]) -> dict[int, tuple[Decimal, Decimal]]:
    rows = (
        ReservationLine.objects.filter(window_id__in=window_ids)
        .values("window_id")
        .annotate(
            live=Sum("amount_usd", filter=Q(reservation__status=ReservationStatus.RESERVED)),
            booked=Sum("spent_usd", filter=Q(reservation__status=ReservationStatus.SETTLED)),
        )
    )
    # Quantized to the windows' own 6 places (SQLite's SUM drops the trailing zeros).
    return {r["window_id"]: (_usd(r["live"]), _usd(r["booked"])) for r in rows}


def _usd(value) -> Decimal:
    return Decimal(value or 0).quantize(USD_PLACES)


def _drift(window: BudgetWindow, totals: dict[int, tuple[Decimal, Decimal]]) -> WindowDrift | None:
    live, booked = totals.get(window.pk, (ZERO, ZERO))
    expected_spent = window.opening_spent_usd + booked
    if window.reserved_usd == live and window.spent_usd == expected_spent:
        return None
    return WindowDrift(
        window=window.pk,
        budget=window.budget_id,
        business=window.budget.business_id,
        reserved_usd=window.reserved_usd,
        expected_reserved_usd=live,
        spent_usd=window.spent_usd,
        expected_spent_usd=expected_spent,
    )


def window_drift(windows=None) -> list[WindowDrift]:
    """Every window (default: :func:`windows_to_check`) whose totals its lines do not prove."""
    found = list((windows if windows is not None else windows_to_check()).select_related("budget"))
    totals = _line_totals([w.pk for w in found])
    return [d for d in (_drift(w, totals) for w in found) if d is not None]


def repair_window(window_id: int) -> WindowDrift | None:
    """Re-check one window under its row lock and set the proven totals; returns what it fixed.

    Run in the caller's transaction (take windows in id order when repairing several)."""
    window = (
        BudgetWindow.objects.select_for_update(of=("self",), no_key=True)
        .select_related("budget")
        .filter(pk=window_id)
        .first()
    )
    if window is None:
        return None
    drift = _drift(window, _line_totals([window.pk]))
    if drift is not None:
        BudgetWindow.objects.filter(pk=window.pk).update(
            reserved_usd=drift.expected_reserved_usd, spent_usd=drift.expected_spent_usd
        )
        # A corrected spend may flip budget_exhausted, which heartbeats answer from a cache.
        control_versions.bump(control_versions.business_scope(window.budget.business_id))
    return drift


def repair_windows(window_ids: list[int]) -> list[WindowDrift]:
    """Repair each window, in id order (the global lock order), in one transaction."""
    with transaction.atomic():
        return [d for d in (repair_window(pk) for pk in sorted(set(window_ids))) if d is not None]
