"""Agents reporting their own work: one report, a batch of reports, or an update of a live one.

``external_id`` makes a report idempotent: the same body again answers with the same record, a
different body under the same key is a 409 ``idempotency_conflict``. Batches are written with a
handful of bulk statements whatever their size.
"""

import hashlib
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from agents.models import Agent
from executions import idempotency, partitions
from executions.abort import abort_execution
from executions.estimates import estimate_for
from executions.lifecycle import (
    TERMINAL_EVENTS,
    after_terminal,
    announce,
    apply_cost,
    budget_ref,
    deadlines,
    fill_terminal_fields,
    finish,
    finished_callback,
    lock_execution,
    log_failures,
    mark_running,
    run_settings,
)
from executions.logs import build_entries
from executions.models import TERMINAL, Execution, ExecutionLog, IdempotencyKey, Status, Trigger, write_keys
from executions.pricing import Pricer
from executions.signals import executions_batch_finished
from governance import bookings, budgets, enforcement, windows
from mission_control.bulk_insert import allocate_ids, insert_rows, row_maker
from mission_control.conflicts import retrying
from mission_control.errors import DomainError
from mission_control.events import publish_rows
from mission_control.models import Event

# What a report may set directly on the row (status, cost and logs are handled on their own).
REPORT_FIELDS = (
    "external_id",
    "input",
    "output",
    "prompt",
    "error",
    "error_type",
    "started_at",
    "finished_at",
    "duration_ms",
    "model",
    "model_provider",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "total_tokens",
    "session_key",
    "session_id",
)
_REPORTED = frozenset(REPORT_FIELDS)
UPDATE_FIELDS = tuple(f for f in REPORT_FIELDS if f not in ("external_id", "input"))
_ARCHIVED = object()  # a key whose execution's month was archived


def execution_maker(agent: Agent):
    """Unsaved ledger rows for ``agent``'s reports, from their own values: what every row of the
    agent shares (business, agent, defaults) laid out once (``bulk_insert.row_maker``)."""
    # created_at is always set from the row's own times (build_execution): no now() per row.
    return row_maker(
        Execution, business=agent.business, agent=agent, requested_by=f"agent:{agent.pk}", created_at=None
    )


def build_execution(
    agent: Agent,
    data: dict,
    body_hash: str,
    now,
    limits: tuple[int | None, int | None] | None = None,
    pricer: Pricer | None = None,
    make=None,
) -> Execution:
    """An unsaved ledger row for a report, with its times, totals, cost and (when running) its
    deadlines filled in: ``limits`` from :func:`executions.lifecycle.deadlines`; a batch shares
    one ``pricer`` and one ``make`` (:func:`execution_maker`)."""
    status = data.get("status") or Status.RUNNING
    values = {name: value for name, value in data.items() if name in _REPORTED and value is not None}
    values["status"] = status
    values["trigger"] = data.get("trigger") or Trigger.AUTONOMOUS
    values["request_hash"] = body_hash
    execution = (make or execution_maker(agent))(values)
    if execution.started_at is None:
        if execution.finished_at is not None and execution.duration_ms is not None:
            execution.started_at = execution.finished_at - timedelta(milliseconds=execution.duration_ms)
        else:
            execution.started_at = execution.finished_at or now
    # The ledger's time axis is when the work began, also for work reported after the fact.
    execution.created_at = min(execution.started_at, now)
    if status in TERMINAL:
        fill_terminal_fields(execution, now)
    else:
        execution.last_seen_at = now
        execution.timeout_s, execution.heartbeat_timeout_s = limits or deadlines(run_settings(agent))
        if execution.timeout_s:
            execution.deadline_at = execution.started_at + timedelta(seconds=execution.timeout_s)
    apply_cost(execution, data.get("cost_usd"), data.get("cost_source"), pricer=pricer)
    return execution


def same_or_conflict(existing: Execution, body_hash: str) -> Execution:
    if existing.request_hash != body_hash:
        raise DomainError(
            "idempotency_conflict",
            f"external_id '{existing.external_id}' already names execution #{existing.pk} with a different body.",
            execution=existing.pk,
        )
    return existing


def report_execution(*, agent: Agent, data: dict, body_hash: str, actor=None) -> tuple[Execution, bool]:
    """Record one report; returns ``(execution, created)``.

    A ``running`` report is new work: governance may refuse it (423, 403, 402) and its budget is
    held. A terminal report records work already done: it is always booked.
    """
    external_id = data.get("external_id")
    for _ in range(2):
        if external_id:
            existing = idempotency.find(agent.pk, "external_id", external_id)
            if existing is not None:
                return same_or_conflict(existing, body_hash), False
        try:
            return _record_once(agent, data, body_hash, actor), True
        except IntegrityError:
            if not external_id:
                raise
            # The same key was recorded concurrently: the next pass answers from that row.
    raise DomainError("idempotency_conflict", f"external_id '{external_id}' is being recorded concurrently.")


def _record_once(agent: Agent, data: dict, body_hash: str, actor) -> Execution:
    if connection.in_atomic_block:
        # A savepoint: a concurrent report of the same external_id must not sink the caller's
        # transaction (report_execution answers from the winner's row).
        with transaction.atomic():
            return _record(agent, data, body_hash, actor)
    return _record_in_own_transaction(agent, data, body_hash, actor)


@retrying
def _record_in_own_transaction(agent: Agent, data: dict, body_hash: str, actor) -> Execution:
    return _record(agent, data, body_hash, actor)  # the whole transaction rolls back on a conflict


def _record(agent: Agent, data: dict, body_hash: str, actor) -> Execution:
    execution = build_execution(agent, data, body_hash, timezone.now())
    if execution.status == Status.RUNNING:
        enforcement.check_can_start(
            business=agent.business,
            agent=agent,
            trigger=execution.trigger,
            model=execution.model,
            provider=execution.model_provider,
            actor=actor,
        )
        execution.estimate_usd = estimate_for(agent)
        execution.save()
        budgets.reserve(
            business=agent.business,
            agent_id=agent.pk,
            ref=budget_ref(execution.pk),
            estimate=execution.estimate_usd,
            model=execution.model,
        )
        announce(execution, "execution.started", actor=actor, message=f"Execution #{execution.pk} started")
    else:
        execution.save()
        after_terminal([execution], actor=actor, fresh=True)
    if data.get("logs"):
        ExecutionLog.objects.bulk_create(build_entries(execution, data["logs"], 1))
    return execution


def update_execution(*, execution: Execution, data: dict, actor=None) -> Execution:
    """Move a live execution on (status, usage, output, error, logs). Terminal ones: 409 ``immutable``."""
    data = dict(data)
    logs = data.pop("logs", None) or []
    row = _apply_update(execution.pk, data, logs, actor)
    if row.status == Status.RUNNING and row.abort_requested_at is None:
        _stop_if_over_policy(row)
    return row


@retrying
def _apply_update(pk: int, data: dict, logs: list, actor) -> Execution:
    with transaction.atomic():
        row = lock_execution(pk, settling=data.get("status") in TERMINAL)
        if row is None:
            raise Execution.DoesNotExist(f"Execution {pk} does not exist.")
        if row.is_terminal:
            raise DomainError(
                "immutable", f"Execution #{row.pk} is {row.status}; a finished execution never changes."
            )
        status = data.get("status") or row.status
        if status == Status.PENDING and row.status != Status.PENDING:
            raise DomainError("invalid_transition", f"A {row.status} execution cannot go back to pending.")
        for name in UPDATE_FIELDS:
            if name in data:
                setattr(row, name, data[name])
        if row.cache_read_tokens > row.input_tokens:
            raise DomainError(
                "validation_error",
                "cache_read_tokens: Cache reads are part of input tokens and cannot exceed them.",
                fields={"cache_read_tokens": ["Cannot exceed input_tokens."]},
            )
        now = timezone.now()
        if status in TERMINAL:
            if row.started_at is None and row.status == Status.PENDING:
                # Straight from pending to an end (a push agent that only reports the result): it
                # ran from when it was delivered, or at the latest from now.
                row.started_at = min(row.last_dispatch_at or now, row.finished_at or now)
            finish(
                row,
                status=status,
                actor=actor,
                reported_cost=data.get("cost_usd"),
                cost_source=data.get("cost_source"),
            )
        else:
            if status == Status.RUNNING:
                mark_running(row, actor=actor, save=False)  # saved below with the reported changes
            row.last_seen_at = now
            apply_cost(row, data.get("cost_usd"), data.get("cost_source"))
            row.save()
        if logs:
            last = row.logs.order_by("-seq").values_list("seq", flat=True).first() or 0
            ExecutionLog.objects.bulk_create(build_entries(row, logs, last + 1))
    return row


def _stop_if_over_policy(row: Execution) -> None:
    """Running work whose usage passes a policy cap (tokens, cost) is aborted through the agent."""
    tokens = row.total_tokens or row.input_tokens + row.output_tokens
    try:
        enforcement.check_usage(
            business=row.business, agent_id=row.agent_id, total_tokens=tokens, cost_usd=row.cost_usd
        )
    except DomainError as over:
        abort_execution(execution=row, actor="system", reason=f"Stopped by policy: {over.detail}")
        row.refresh_from_db()


def ingest_batch(*, agent: Agent, items: list[tuple[int, dict, str]], actor=None) -> dict[int, dict]:
    """Record many reports at once: ``items`` are ``(index, validated data, body hash)``.

    Returns a result per index. One refused item never sinks the others.
    """
    for attempt in range(2):
        try:
            return _ingest_once(agent, items, actor)
        except IntegrityError:
            # A concurrent report took one of our external_ids; the second pass sees it as existing.
            if attempt:
                raise
    return {}


@retrying
def _ingest_once(agent: Agent, items: list[tuple[int, dict, str]], actor) -> dict[int, dict]:
    with transaction.atomic():
        return _ingest(agent, items, actor)


def _ok(index: int, status: int, pk: int) -> dict:
    return {"index": index, "status": status, "id": pk}


def _error(index: int, exc: DomainError) -> dict:
    return {
        "index": index,
        "status": exc.status,
        "error": exc.code,
        "detail": str(exc.detail),
        **exc.extra,
    }


def _ingest(agent: Agent, items: list[tuple[int, dict, str]], actor) -> dict[int, dict]:
    now = timezone.now()
    results: dict[int, dict] = {}
    keys = idempotency.keyed(
        agent.pk, "external_id", {data["external_id"] for _, data, _ in items if data.get("external_id")}
    )
    digests = dict(
        Execution.objects.filter(pk__in=[pk for pk, _ in keys.values()]).values_list("pk", "request_hash")
    )
    existing = {ext: (pk, digests.get(pk, _ARCHIVED)) for ext, (pk, _) in keys.items()}
    fresh: list[tuple[int, dict, str]] = []
    first_seen: dict[str, tuple[int, str]] = {}
    repeats: list[tuple[int, str, str]] = []
    for index, data, digest in items:
        ext = data.get("external_id")
        if ext and ext in existing:
            pk, old = existing[ext]
            if old is _ARCHIVED:
                results[index] = _error(index, idempotency.archived("external_id", ext, pk))
            else:
                results[index] = _ok(index, 200, pk) if old == digest else _error(index, _conflict(ext, pk))
        elif ext and ext in first_seen:
            repeats.append((index, ext, digest))
        else:
            if ext:
                first_seen[ext] = (index, digest)
            fresh.append((index, data, digest))

    fresh = _refuse_what_governance_refuses(agent, fresh, results, actor)
    limits = deadlines(run_settings(agent))
    pricer, make = Pricer(), execution_maker(agent)
    rows = [build_execution(agent, data, digest, now, limits, pricer, make) for _, data, digest in fresh]
    live = [row for row in rows if row.status == Status.RUNNING]
    if live:
        estimate = estimate_for(agent)
        for row in live:
            row.estimate_usd = estimate
    # Ids for the rows and their events in one query (COPY needs them; None off PostgreSQL).
    # Ids for the rows, their events and their idempotency keys in one query (COPY needs them;
    # None off PostgreSQL). A batch's rows carry one key each when they have an external_id.
    keyed = sum(1 for row in rows if row.external_id)
    ids = allocate_ids((Execution, len(rows)), (Event, len(rows)), (IdempotencyKey, keyed))
    created = write_rows(rows, ids[0] if ids else None, ids[2] if ids else None)
    for (index, _, _), row in zip(fresh, created, strict=True):
        results[index] = _ok(index, 201, row.pk)

    entries = []
    for (_, data, _), row in zip(fresh, created, strict=True):
        if data.get("logs"):
            entries.extend(build_entries(row, data["logs"], 1))
    if entries:
        ExecutionLog.objects.bulk_create(entries, batch_size=1000)

    for row in live:
        budgets.reserve(
            business=agent.business, agent_id=agent.pk, ref=budget_ref(row.pk), estimate=row.estimate_usd
        )
    finished = [row for row in created if row.status in TERMINAL]
    _settle_in_bulk(agent, finished)
    stamp = timezone.now()
    publish_rows(_events(agent, created, stamp), ids[1] if ids else None)
    transaction.on_commit(lambda: _announce_batch(finished))

    for index, ext, digest in repeats:
        first_index, first_digest = first_seen[ext]
        first = results[first_index]
        if "id" in first:
            results[index] = (
                _ok(index, 200, first["id"])
                if digest == first_digest
                else _error(index, _conflict(ext, first["id"]))
            )
        else:
            results[index] = {**first, "index": index}
    return results


def write_rows(
    rows: list[Execution], ids: list[int] | None, key_ids: list[int] | None = None
) -> list[Execution]:
    """The one place a batch's ledger rows are written (COPY on PostgreSQL); sets their ids.
    Their months are checked first (partitions.admit) and their idempotency keys written with
    them (bulk_create, used off PostgreSQL, writes the keys itself)."""
    partitions.admit(row.created_at for row in rows)
    insert_rows(rows, ids=ids)
    if connection.vendor == "postgresql":
        write_keys(rows, key_ids)
    for row in rows:  # as loaded: a finished row may never be saved again (Execution.save)
        row._loaded_status = row.status
    return rows


def _announce_batch(finished: list[Execution]) -> None:
    for row in finished:
        finished_callback(row, None, batch=True)()
    if finished:
        results = executions_batch_finished.send_robust(sender=Execution, executions=finished)
        log_failures(results, f"a batch of {len(finished)} executions")


def _conflict(ext: str, pk: int) -> DomainError:
    return DomainError(
        "idempotency_conflict",
        f"external_id '{ext}' already names execution #{pk} with a different body.",
        execution=pk,
    )


def _refuse_what_governance_refuses(agent, fresh, results, actor) -> list[tuple[int, dict, str]]:
    """Running reports start work: ask governance once per distinct (trigger, model, provider)."""
    verdicts: dict[tuple, DomainError | None] = {}
    kept = []
    for index, data, digest in fresh:
        if (data.get("status") or Status.RUNNING) != Status.RUNNING:
            kept.append((index, data, digest))
            continue
        key = (
            data.get("trigger") or Trigger.AUTONOMOUS,
            data.get("model") or "",
            data.get("model_provider") or "",
        )
        if key not in verdicts:
            try:
                enforcement.check_can_start(
                    business=agent.business,
                    agent=agent,
                    trigger=key[0],
                    model=key[1],
                    provider=key[2],
                    actor=actor,
                )
                verdicts[key] = None
            except DomainError as refused:
                verdicts[key] = refused
        if verdicts[key] is None:
            kept.append((index, data, digest))
        else:
            results[index] = _error(index, verdicts[key])
    return kept


def _settle_in_bulk(agent: Agent, finished: list[Execution]) -> None:
    """Book finished work: one booking per model and local day for the whole batch, not one
    per row, all booked together. Every budget window starts at a local midnight, so a day's work
    shares its windows; each row counts in the day it finished, as in the rollups."""
    if not finished:
        return
    tz = windows.zone(agent.business.timezone)
    groups: dict[tuple[str, date], list[Execution]] = defaultdict(list)
    for row in finished:
        groups[(row.model, _booked_at(row).astimezone(tz).date())].append(row)
    span = f"{finished[0].pk}-{finished[-1].pk}"
    bookings.book_finished(
        business=agent.business,
        agent_id=agent.pk,
        bookings=[
            bookings.Booking(
                ref=f"executions:{span}:{_short(model)}:{day:%Y%m%d}",
                actual=sum((row.cost_usd for row in rows), Decimal(0)),
                model=model,
                at=min(_booked_at(row) for row in rows),
            )
            for (model, day), rows in groups.items()
        ],
    )


def _booked_at(row: Execution):
    return row.finished_at or row.started_at or row.created_at


def _short(model: str) -> str:
    # Budget refs are at most 120 characters; a long model name is replaced by its digest.
    if len(model) <= 60:
        return model or "-"
    return hashlib.sha256(model.encode()).hexdigest()[:16]


def _events(agent: Agent, rows: list[Execution], ts) -> list[tuple]:
    """The rows' events as :data:`mission_control.events.ROW_FIELDS` (rows of ``agent``: its
    business and actor looked up once)."""
    business_id, slug, actor = agent.business_id, agent.business.slug, f"agent:{agent.pk}"
    events = []
    for row in rows:
        pk, status, error = row.id, row.status, row.error
        text = f"Execution #{pk} {status}"
        if status == Status.FAILED and error:
            text += f": {error[:200]}"
        events.append(
            (
                ts,
                TERMINAL_EVENTS.get(status, "execution.started"),
                business_id,
                slug,
                agent.pk,
                pk,
                actor,
                text[:500],
                {"status": status, "trigger": row.trigger, "cost_usd": str(row.cost_usd)},
            )
        )
    return events
