"""The budget ledger: reserve before work starts, settle when it ends, release if it never ran.

Every budget in scope (the business's, the agent's, the model's) keeps one ``BudgetWindow`` row per
period window. ``reserve`` locks those rows (``SELECT ... FOR UPDATE``, always in id order so two
starts never deadlock), checks ``spent + reserved + estimate <= limit`` on each and only then adds
the estimate to ``reserved``: racing starts queue on the row lock and can never overspend.
``settle`` frees what was held and books the actual cost, over the limit if need be: completed work
is always recorded. Each reservation line keeps what it holds and what it booked in its window, so
:mod:`governance.reconcile` can prove ``reserved = live holds`` and ``spent = settlements``.

Lock order, everywhere: the business row (if at all), then budget windows by id, then executions.
A transaction that will settle locks its windows first (:func:`lock_windows_for`).
"""

import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Round
from django.utils import timezone

from governance import windows
from governance.models import (
    Budget,
    BudgetReservation,
    BudgetWindow,
    Business,
    ExecutionPolicy,
    ReservationLine,
    ReservationStatus,
)
from governance.signals import budget_crossed
from mission_control import control_versions
from mission_control.display import money as money_text
from mission_control.errors import DomainError
from mission_control.events import publish

logger = logging.getLogger(__name__)

MICRO = Decimal("0.000001")


def money(value) -> Decimal:
    amount = Decimal(str(value)).quantize(MICRO)
    if amount < 0:
        raise ValueError("amounts cannot be negative")
    return amount


def in_scope(*, business_id: int, agent_id: int | None, model: str = "") -> QuerySet[Budget]:
    """The enabled budgets that apply to work of ``agent_id`` with ``model`` in a business."""
    who = Q(agent_id__isnull=True)
    if agent_id:
        who |= Q(agent_id=agent_id)
    which = Q(model="")
    if model:
        which |= Q(model__iexact=model)
    return Budget.objects.filter(business_id=business_id, enabled=True).filter(who).filter(which)


def window_for(budget: Budget, at: datetime, tz_name: str) -> BudgetWindow:
    """The budget's window containing ``at``, created on first use."""
    start, end = windows.bounds(budget.period, tz_name, at)
    window = BudgetWindow.objects.filter(budget=budget, window_start=start).first()
    if window is not None:
        return window
    try:
        with transaction.atomic():
            return BudgetWindow.objects.create(budget=budget, window_start=start, window_end=end)
    except IntegrityError:  # another start created it first
        return BudgetWindow.objects.get(budget=budget, window_start=start)


def _exhausted(now) -> Q:
    """A budget with nothing left now: a zero limit, or a current window spent to its limit."""
    current = Q(
        windows__window_start__lte=now,
        windows__window_end__gt=now,
        windows__spent_usd__gte=F("limit_usd"),
    )
    return Q(limit_usd=0) | current


def exhausted_budget(*, business_id: int, agent_id: int | None, model: str = "", now=None) -> Budget | None:
    """A budget in scope whose current window has nothing left (one query), or None."""
    return (
        in_scope(business_id=business_id, agent_id=agent_id, model=model)
        .filter(_exhausted(now or timezone.now()))
        .order_by("pk")
        .first()
    )


def exhausted_budget_holders(*, business_id: int, now=None) -> frozenset[int | None]:
    """Whom the business's exhausted budgets without a model bind, for all its agents in one query:
    ``None`` for a budget of the whole business, else an agent's id. ``exhausted_budget(business_id=b,
    agent_id=a)`` is not None exactly when ``None`` or ``a`` is in the set."""
    rows = (
        Budget.objects.filter(business_id=business_id, enabled=True, model="")  # in_scope, any agent
        .filter(_exhausted(now or timezone.now()))
        .values_list("agent_id", flat=True)
        .distinct()
    )
    return frozenset(rows)


def policy_cost_cap(*, business_id: int, agent_id: int) -> Decimal | None:
    """The max cost per execution an execution policy sets (the agent's, else the business's)."""
    caps = dict(
        ExecutionPolicy.objects.filter(business_id=business_id)
        .filter(Q(agent_id=agent_id) | Q(agent_id__isnull=True))
        .values_list("agent_id", "max_cost_per_execution_usd")
    )
    for key in (agent_id, None):
        if caps.get(key) is not None:
            return money(caps[key])
    return None


def _fits(window: BudgetWindow, limit: Decimal, estimate: Decimal) -> bool:
    used = window.spent_usd + window.reserved_usd
    # A zero estimate still needs something left: an exhausted budget refuses all new work.
    return used + estimate <= limit if estimate > 0 else used < limit


def budget_rows_query(*, business_id: int, model: str = "", now: datetime) -> tuple[str, list]:
    """The SQL (and parameters) of the rows :func:`short_budgets` judges: each enabled budget of the
    business for every model or this one (``in_scope``'s rule) with its window containing ``now`` if
    it has one yet (none: nothing spent), as ``(agent id, period, limit, spent, reserved)``. Written out
    (the FilteredRelation queryset cost more to compile than to run); the business's budgets, not an IN
    list of agents."""
    which = "(b.model = '' OR UPPER(b.model) = UPPER(%s))" if model else "b.model = ''"
    sql = f"""
        SELECT b.agent_id, b.period, b.limit_usd, w.spent_usd, w.reserved_usd
        FROM {Budget._meta.db_table} b LEFT JOIN {BudgetWindow._meta.db_table} w
             ON w.budget_id = b.id AND w.window_start <= %s AND w.window_end > %s
        WHERE b.business_id = %s AND b.enabled AND {which} ORDER BY b.id"""  # noqa: S608 -- names, not input
    at = connection.ops.adapt_datetimefield_value(now)
    return sql, [at, at, business_id, *([model] if model else [])]


def short_budgets(
    *,
    business: Business,
    agent_ids: list[int],
    estimates: Sequence[int],
    model: str = "",
    now=None,
    rows: list[tuple] | None = None,
) -> dict[int, str]:
    """For many agents at once (routing): ``{agent_id: why}`` for each whose estimate (integer
    micro-dollars, in the order of ``agent_ids``) some budget in scope cannot cover now, by the rule
    of :func:`reserve` without holding anything. One query whatever the number of agents or budgets
    (none when the caller read :func:`budget_rows_query`'s ``rows`` itself). Reads what is committed
    now, so a budget exhausted a moment ago excludes; ``reserve`` stays the judge when the work
    starts."""
    short: dict[int, str] = {}
    if not agent_ids:
        return short
    if rows is None:
        sql, params = budget_rows_query(business_id=business.pk, model=model, now=now or timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    position = None
    needed = np.array(estimates, dtype=np.int64)

    def refuse(n: int, period, limit, limit_m: int, used_m: int) -> None:
        if agent_ids[n] not in short:
            short[agent_ids[n]] = (
                f"the {period} budget of {money_text(limit)} cannot cover it "
                f"({money_text(Decimal(max(limit_m - used_m, 0)) / 10**6)} left, "
                f"{money_text(Decimal(int(needed[n])) / 10**6)} needed)"
            )

    for agent_id, period, limit, spent, reserved in rows:
        limit_m, used_m = _micro(limit), _micro(spent or 0) + _micro(reserved or 0)
        # A zero estimate still needs something left: an exhausted budget refuses all new work.
        if agent_id is None:  # the business's: every candidate at once
            fits = np.where(needed > 0, used_m + needed <= limit_m, used_m < limit_m)
            for n in np.flatnonzero(~fits):
                refuse(int(n), period, limit, limit_m, used_m)
            continue
        position = position or dict(zip(agent_ids, range(len(agent_ids)), strict=True))
        n = position.get(agent_id)
        if n is None:
            continue
        estimate = int(needed[n])
        if not (used_m + estimate <= limit_m if estimate > 0 else used_m < limit_m):
            refuse(n, period, limit, limit_m, used_m)
    return short


def _micro(amount) -> int:
    if isinstance(amount, Decimal):  # PostgreSQL's numeric: exact as it is
        return int(amount * 1_000_000)
    return int(Decimal(str(amount)) * 1_000_000)  # SQLite may hand a number back as a float


def reserve(*, business: Business, agent_id: int, ref: str, estimate: Decimal, model: str = "") -> None:
    """Hold ``estimate`` against every budget in scope, or raise 402 ``budget_exceeded``.

    All or nothing: either every budget holds it or none does. Idempotent per ``ref``.
    """
    estimate = money(estimate)  # the caller's (executions.estimates): governance does not guess one
    now = timezone.now()
    with transaction.atomic():
        if BudgetReservation.objects.filter(ref=ref).exists():
            return
        budgets = list(in_scope(business_id=business.pk, agent_id=agent_id, model=model).order_by("pk"))
        held = [window_for(b, now, business.timezone) for b in budgets]
        # Row locks in id order: concurrent reserves queue here and re-read the committed totals.
        locked = {
            w.pk: w
            for w in BudgetWindow.objects.select_for_update(no_key=True)
            .filter(pk__in=[w.pk for w in held])
            .order_by("pk")
        }
        for budget, window in zip(budgets, held, strict=True):
            current = locked[window.pk]
            if not _fits(current, budget.limit_usd, estimate):
                remaining = max(budget.limit_usd - current.spent_usd - current.reserved_usd, Decimal(0))
                raise DomainError(
                    "budget_exceeded",
                    f"The {budget.period} budget of {money_text(budget.limit_usd)} cannot cover this work "
                    f"({money_text(remaining)} left, {money_text(estimate)} needed).",
                    budget=budget.pk,
                    limit_usd=str(budget.limit_usd),
                    remaining_usd=str(remaining.quantize(MICRO)),
                    estimate_usd=str(estimate),
                )
        try:
            with transaction.atomic():
                reservation = BudgetReservation.objects.create(
                    ref=ref, business=business, agent_id=agent_id, model=model, estimate_usd=estimate
                )
        except IntegrityError:  # the same ref reserved concurrently: idempotent
            return
        for window in sorted(held, key=lambda w: w.pk):
            BudgetWindow.objects.filter(pk=window.pk).update(
                reserved_usd=_exact(F("reserved_usd") + estimate)
            )
        ReservationLine.objects.bulk_create(
            [ReservationLine(reservation=reservation, window=w, amount_usd=estimate) for w in held]
        )


def lock_windows_for(ref: str) -> list[int]:
    """Lock, in id order, the windows holding ``ref``'s reservation: what settling it will update.

    Call before locking the work itself (an execution), to keep the global lock order."""
    window_ids = list(
        ReservationLine.objects.filter(reservation__ref=ref)
        .order_by("window_id")
        .values_list("window_id", flat=True)
    )
    if window_ids:
        list(
            BudgetWindow.objects.select_for_update(no_key=True)
            .filter(pk__in=window_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    return window_ids


def settle(
    *,
    business: Business,
    agent_id: int,
    ref: str,
    actual: Decimal,
    model: str = "",
    at: datetime | None = None,
) -> None:
    """Free the reservation of ``ref`` and book ``actual`` against every budget in scope.

    Idempotent per ref. Books the spend even over the limit, in the windows containing ``at``:
    when the work finished (default now), which is the hour the ledger's rollups and every
    dashboard count it in. So a budget's "spent" and the dashboards' cost for the same window are
    one figure, also for work that started before a window's edge and finished after it (its hold
    is freed where it was taken). Work reported after the fact needs no prior reservation.
    """
    actual = money(actual or 0)
    now = timezone.now()
    with transaction.atomic():
        reservation = _locked_reservation(ref)
        if reservation is None:
            try:
                with transaction.atomic():
                    reservation = BudgetReservation.objects.create(
                        ref=ref,
                        business=business,
                        agent_id=agent_id,
                        model=model,
                        created_at=min(at or now, now),
                    )
            except IntegrityError:
                reservation = _locked_reservation(ref)
        if reservation.status == ReservationStatus.SETTLED:
            return
        reserved_delta: dict[int, Decimal] = {}
        held_by_budget: dict[int, BudgetWindow] = {}
        if reservation.status == ReservationStatus.RESERVED:
            for line in reservation.lines.select_related("window"):
                reserved_delta[line.window_id] = line.amount_usd
                held_by_budget[line.window.budget_id] = line.window
        spent_delta: dict[int, Decimal] = {}
        # Spend belongs to the window the work finished in, as in the ledger's rollups (most often
        # the one that held its money: no look-up then).
        booked_at = min(at or now, now)
        for budget in in_scope(business_id=business.pk, agent_id=agent_id, model=model or reservation.model):
            window = held_by_budget.get(budget.pk)
            if window is None or not window.window_start <= booked_at < window.window_end:
                window = window_for(budget, booked_at, business.timezone)
            spent_delta[window.pk] = actual
        _move_windows(reserved_delta, spent_delta)
        _book_lines(reservation, spent_delta, held=set(reserved_delta))
        reservation.status = ReservationStatus.SETTLED
        reservation.actual_usd = actual
        reservation.model = model or reservation.model
        reservation.closed_at = now
        reservation.save(update_fields=["status", "actual_usd", "model", "closed_at"])
        if actual and spent_delta:  # no window booked, no crossing (and no query)
            _announce_crossings(sorted(spent_delta), now)


def book_unreserved(
    *,
    business: Business,
    agent_id: int,
    ref: str,
    actual: Decimal,
    model: str = "",
    at: datetime | None = None,
) -> None:
    """Book work nothing was held for: what :func:`settle` does for a ``ref`` first seen settled
    (an execution inserted already ended in this transaction, reported after the fact), without
    looking for a hold or its lines. ``ref`` must be new: its unique constraint refuses a second
    booking, and the caller's transaction rolls back whole."""
    actual = money(actual or 0)
    now = timezone.now()
    booked_at = min(at or now, now)
    with transaction.atomic(savepoint=False):
        reservation = BudgetReservation.objects.create(
            ref=ref,
            business=business,
            agent_id=agent_id,
            model=model,
            created_at=booked_at,
            status=ReservationStatus.SETTLED,
            actual_usd=actual,
            closed_at=now,
        )
        spent_delta = {
            window_for(budget, booked_at, business.timezone).pk: actual
            for budget in in_scope(business_id=business.pk, agent_id=agent_id, model=model)
        }
        _move_windows({}, spent_delta)
        _book_lines(reservation, spent_delta, held=set())
        if actual and spent_delta:  # no window booked, no crossing (and no query)
            _announce_crossings(sorted(spent_delta), now)


def _move_windows(reserved_delta: dict[int, Decimal], spent_delta: dict[int, Decimal]) -> None:
    """Free holds and book spend on the windows, in id order (the lock order)."""
    for window_id in sorted(set(reserved_delta) | set(spent_delta)):
        BudgetWindow.objects.filter(pk=window_id).update(
            reserved_usd=_exact(F("reserved_usd") - reserved_delta.get(window_id, Decimal(0))),
            spent_usd=_exact(F("spent_usd") + spent_delta.get(window_id, Decimal(0))),
        )


def _book_lines(reservation: BudgetReservation, spent_delta: dict[int, Decimal], held: set[int]) -> None:
    """Record on the reservation's lines what was booked in each window (one line per window)."""
    for window_id, amount in spent_delta.items():
        if window_id in held:
            ReservationLine.objects.filter(reservation=reservation, window_id=window_id).update(
                spent_usd=amount
            )
    ReservationLine.objects.bulk_create(
        [
            ReservationLine(reservation=reservation, window_id=window_id, amount_usd=0, spent_usd=amount)
            for window_id, amount in spent_delta.items()
            if window_id not in held
        ]
    )


def release(*, ref: str) -> None:
    """Free the reservation of work that never ran. A no-op for unknown or closed refs."""
    with transaction.atomic():
        reservation = _locked_reservation(ref)
        if reservation is None or reservation.status != ReservationStatus.RESERVED:
            return
        for line in reservation.lines.order_by("window_id"):
            BudgetWindow.objects.filter(pk=line.window_id).update(
                reserved_usd=_exact(F("reserved_usd") - line.amount_usd)
            )
        reservation.status = ReservationStatus.RELEASED
        reservation.closed_at = timezone.now()
        reservation.save(update_fields=["status", "closed_at"])


def _exact(expression):
    """Round window arithmetic to the column's 6 places. PostgreSQL's numeric is exact already;
    SQLite computes in floating point, where reserving and freeing the same $0.009912 can leave
    -1e-18 behind and trip the non-negative check (seen under the simulated fleet)."""
    return Round(expression, 6)


def _locked_reservation(ref: str) -> BudgetReservation | None:
    return BudgetReservation.objects.select_for_update(no_key=True).filter(ref=ref).first()


def _announce_crossings(window_ids: list[int], now) -> None:
    """Publish ``budget.soft_limit`` / ``budget.exceeded`` the first time a window crosses each."""
    for window in BudgetWindow.objects.filter(pk__in=window_ids).select_related("budget__business"):
        budget = window.budget
        if window.spent_usd >= budget.limit_usd:  # heartbeats answer budget_exhausted from a cache
            control_versions.bump(control_versions.business_scope(budget.business_id))
        crossings = [
            ("soft_alerted_at", "budget.soft_limit", budget.soft_limit_usd, "reached its soft limit"),
            ("exceeded_alerted_at", "budget.exceeded", budget.limit_usd, "is exhausted"),
        ]
        for stamp, kind, threshold, words in crossings:
            if window.spent_usd < threshold or getattr(window, stamp) is not None:
                continue
            # The conditional UPDATE makes "once per window" true across concurrent settles.
            if not BudgetWindow.objects.filter(pk=window.pk, **{f"{stamp}__isnull": True}).update(
                **{stamp: now}
            ):
                continue
            message = f"{describe(budget)} {words}: {money_text(window.spent_usd)} of {money_text(budget.limit_usd)} spent"
            publish(
                kind=kind,
                business=budget.business,
                agent_id=budget.agent_id,
                actor="system",
                message=message,
                data={
                    "budget": budget.pk,
                    "period": budget.period,
                    "window_start": window.window_start.isoformat(),
                    "spent_usd": str(window.spent_usd),
                    "limit_usd": str(budget.limit_usd),
                    "soft_limit_pct": budget.soft_limit_pct,
                },
            )
            transaction.on_commit(lambda b=budget, k=kind, m=message: _tell_listeners(b, k, m))


def describe(budget: Budget) -> str:
    scope = f"agent {budget.agent_id}" if budget.agent_id else budget.business.name
    model = f" ({budget.model})" if budget.model else ""
    return f"The {budget.period} budget of {scope}{model}"


def _tell_listeners(budget: Budget, kind: str, message: str) -> None:
    """Send ``budget_crossed`` (after commit). A listener that fails is logged: the event stands."""
    for receiver, result in budget_crossed.send_robust(
        sender=Budget, budget=budget, kind=kind, message=message
    ):
        if isinstance(result, Exception):
            logger.warning(
                "budget alert receiver %r failed for budget %s", receiver, budget.pk, exc_info=result
            )
