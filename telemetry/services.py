"""OTLP traces into the ledger: one execution per trace, through the ledger's own verbs.

A trace becomes one execution of the exporting key's agent (``trigger`` autonomous,
``external_id`` = the trace id). The first export that shows a trace reports it with
:func:`executions.services.ingest_batch`: running if its root span has not ended yet (new
work, so governance may refuse it and its budget is held), terminal if it has (work already done
is always booked), all new traces of an export in one batch. Later exports move it on with
:func:`executions.services.update_execution`;
the export holding the root span ends it, and it settles like any report. Each span's log entries
carry a ``client_id`` made from its span id, so a span sent twice is counted once: the set of
span ids already booked is read under the execution's row lock, and the ledger's unique
``(execution, client_id)`` makes it true under any race.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from agents.heartbeats import record_heartbeat
from agents.models import Agent
from executions import pricing
from executions.idempotency import keyed
from executions.lifecycle import lock_execution
from executions.models import CostSource, Execution, ExecutionLog, Status
from executions.services import ingest_batch, update_execution
from mission_control.conflicts import retrying
from mission_control.errors import DomainError
from telemetry.spans import SpanRecord, conversation, invalid, log_entries, price_provider, usage_of

MAX_MESSAGES = 5  # distinct refusal sentences quoted in partial_success.error_message


@dataclass
class Outcome:
    """What an export achieved: spans refused, and why (for ``partial_success``)."""

    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def refuse(self, count: int, reason: str) -> None:
        self.rejected += count
        if reason not in self.reasons:
            self.reasons.append(reason)

    @property
    def message(self) -> str:
        text = "; ".join(self.reasons[:MAX_MESSAGES])
        if len(self.reasons) > MAX_MESSAGES:
            text += f"; and {len(self.reasons) - MAX_MESSAGES} more"
        return text


def ingest_spans(*, agent: Agent, spans: list[SpanRecord], actor=None) -> Outcome:
    """Book ``spans`` (any number of traces) for ``agent``. Returns the spans refused and why.

    Traces seen for the first time are reported together through the batch path
    (:func:`executions.services.ingest_batch`: a few bulk statements for the whole export); traces
    already booked are merged one by one. A trace governance refuses to start (``emergency_stop``,
    ``restriction_*``, ``budget_exceeded``) and spans of an execution that already ended are
    refused, not half written.
    """
    outcome = Outcome()
    if spans:
        _sign_of_life(agent, spans[0])
    traces: dict[str, list[SpanRecord]] = defaultdict(list)
    for span in spans:
        reason = invalid(span)
        if reason:
            outcome.refuse(1, reason)
        else:
            traces[span.trace_id].append(span)
    for trace_spans in traces.values():
        trace_spans.sort(key=lambda s: (s.start, s.end))
    booked = {trace_id: pk for trace_id, (pk, _) in keyed(agent.pk, "external_id", traces).items()}
    fresh = [trace_id for trace_id in traces if trace_id not in booked]
    if fresh:
        items = [(i, _report(t, traces[t]), _trace_hash(agent, t)) for i, t in enumerate(fresh)]
        results = ingest_batch(agent=agent, items=items, actor=actor)
        for i, trace_id in enumerate(fresh):
            result = results[i]
            if result["status"] == 200:
                booked[trace_id] = result["id"]  # another export of this trace won the race: merge
            elif "error" in result:
                outcome.refuse(
                    len(traces[trace_id]), f"trace {trace_id}: {result['error']}: {result['detail']}"
                )
    for trace_id, pk in booked.items():
        try:
            _merge(pk, traces[trace_id], actor)
        except DomainError as refused:
            outcome.refuse(len(traces[trace_id]), f"trace {trace_id}: {refused.code}: {refused.detail}")
    return outcome


def _sign_of_life(agent: Agent, span: SpanRecord) -> None:
    """An export is the agent's heartbeat: it is online (and its version and host shown) like an
    SDK agent while it exports. Its status is left to the ledger (active while it has work
    running); commands it cannot hear (stop, abort) wait, as for any agent that does not poll."""
    resource = span.resource
    version = resource.get("service.version")
    host = resource.get("host.name")
    record_heartbeat(
        agent=agent,
        status="idle",
        version=str(version)[:64] if version else None,
        runtime_location=str(host)[:200] if host else None,
    )


def _trace_hash(agent: Agent, trace_id: str) -> str:
    # Every export of a trace carries the same "body" for idempotency: the trace itself.
    return hashlib.sha256(f"otlp:{agent.pk}:{trace_id}".encode()).hexdigest()


@retrying
def _merge(pk: int, spans: list[SpanRecord], actor) -> None:
    # Windows first, then the row (the global lock order): this update may settle the execution.
    row = lock_execution(pk, settling=True)
    seen = set(
        ExecutionLog.objects.filter(execution_id=pk, client_id__in=[s.span_id for s in spans]).values_list(
            "client_id", flat=True
        )
    )
    fresh = [s for s in spans if s.span_id not in seen]
    if not fresh:
        return  # a repeated export: everything in it is booked already
    if row.is_terminal:
        raise DomainError(
            "immutable",
            f"Execution #{row.pk} is already {row.status}; spans arriving after it ended are not booked.",
        )
    update_execution(execution=row, data=_update(row, fresh), actor=actor)


@dataclass
class _Totals:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cost: Decimal = Decimal(0)
    priced: int = 0
    model: str = ""
    provider: str = ""
    session: str = ""
    logs: list[dict] = field(default_factory=list)


def _totals(spans: list[SpanRecord]) -> _Totals:
    """Tokens and cost of the inference spans (each priced at its own time), and every log entry."""
    t = _Totals()
    for span in spans:
        cost = None
        usage = usage_of(span)
        if usage is not None:
            t.input_tokens += usage.input_tokens
            t.output_tokens += usage.output_tokens
            t.cache_read_tokens += usage.cache_read_tokens
            t.model = t.model or usage.model
            t.provider = t.provider or usage.provider
            priced = _price(usage, span)
            if priced is not None:
                t.cost += priced
                t.priced += 1
                cost = str(priced)
        t.session = t.session or str(span.attributes.get("gen_ai.conversation.id") or "")[:200]
        t.logs.extend(log_entries(span, cost))
    return t


def _price(usage, span: SpanRecord) -> Decimal | None:
    fields = {
        "model": usage.model,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "at": span.start,
    }
    cost = pricing.compute(provider=price_provider(usage.provider), **fields)
    if cost is None and usage.provider:
        # A provider name the price data does not know (a proxy, a test double): match the model alone.
        cost = pricing.compute(provider="", **fields)
    return cost


def _root(spans: list[SpanRecord]) -> SpanRecord | None:
    return next((s for s in spans if s.is_root), None)


def _ending(root: SpanRecord | None) -> dict:
    """What the root span says about the whole run: its end, status, error and output."""
    if root is None:
        return {}
    data = {"started_at": root.start, "finished_at": root.end, "status": Status.SUCCESS}
    data["duration_ms"] = max(0, int((root.end - root.start).total_seconds() * 1000))
    if root.failed:
        error_type = str(root.attributes.get("error.type") or "")
        data.update(status=Status.FAILED, error=root.status_message or error_type or "The root span failed.")
        data["error_type"] = error_type[:80]
    output = [messages for kind, messages, _ in conversation(root) if kind == "completion"]
    if output:
        data["output"] = {"messages": output[-1]}
    return data


def _cost(t: _Totals, row: Execution | None = None) -> dict:
    # Priced per inference span and summed (not from the row's totals under its one model); a run
    # whose spans the price data knows none of stays "unknown", as for any report. A later export
    # always restates the sum, else the ledger would re-price the row from its totals.
    booked = row is not None and row.cost_source == CostSource.COMPUTED
    if not t.priced and not booked:
        return {}
    return {"cost_usd": (row.cost_usd if booked else Decimal(0)) + t.cost, "cost_source": CostSource.COMPUTED}


def _report(trace_id: str, spans: list[SpanRecord]) -> dict:
    """The first report of a trace: running, or terminal when its root span is here."""
    t = _totals(spans)
    root = _root(spans)
    first = spans[0]
    data = {
        "external_id": trace_id,
        "status": Status.RUNNING,
        "started_at": min(s.start for s in spans),
        "input": {"otel": {"trace_id": trace_id, "resource": first.resource, "scope": first.scope}},
        "model": t.model,
        "model_provider": t.provider,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cache_read_tokens": t.cache_read_tokens,
        "session_id": t.session,
        "logs": t.logs,
        **_cost(t),
        **_ending(root),
    }
    return data


def _update(row: Execution, spans: list[SpanRecord]) -> dict:
    """A later export of the trace: the new spans' usage added to the row's, the root ends it."""
    t = _totals(spans)
    data = {
        "input_tokens": row.input_tokens + t.input_tokens,
        "output_tokens": row.output_tokens + t.output_tokens,
        "cache_read_tokens": row.cache_read_tokens + t.cache_read_tokens,
        "logs": t.logs,
        **_cost(t, row),
        **_ending(_root(spans)),
    }
    if not row.model and t.model:
        data.update(model=t.model, model_provider=t.provider)
    if not row.session_id and t.session:
        data["session_id"] = t.session
    earliest = min(s.start for s in spans)
    if row.started_at is None or earliest < row.started_at:
        data["started_at"] = earliest
    return data
