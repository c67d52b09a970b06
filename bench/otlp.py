"""OTLP trace ingestion against the batch endpoint, in the same run: spans per second through
``POST /api/v1/otel/v1/traces`` (protobuf, whole traces per export and traces split over two
exports) beside executions per second through ``POST /api/v1/executions/batch``. Both through HTTP
in-process (auth, parsing, the view, the services, events, settlement, roll-ups), as deployed.

    DATABASE_URL=postgres://root@127.0.0.1:5432/postgres .venv/bin/python -m bench otlp [--traces 400]

A trace is an agent run of 4 spans (invoke_agent, two chat calls with tokens and captured messages,
one execute_tool): one execution, 7 log entries. Exports carry 512 spans at most, the OpenTelemetry
SDK batch processor's default.

Recorded on the shared 2-core machine under a load average of 10-13 (other work running), 400
traces, PostgreSQL 15 on localhost (two runs; the batch line moved 5x between them with the load):
    OTLP, whole traces per export        195-232 spans/s   49-58 executions/s
    OTLP, each trace over two exports     12-22 spans/s     3-5 executions/s
    batch endpoint                                         219-1,087 executions/s
New traces of an export are booked together through ingest_batch (bulk statements); most of their
cost is writing 7 log entries per run with every attribute kept. A trace completed by a later
export is merged on its own (row lock, update, settlement, its own roll-up): the slow line.
"""

import argparse
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

from bench._setup import throwaway_database
from bench.ingest import report

SPANS_PER_EXPORT = 512


def trace_spans(n: int):
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    def attrs(**values):
        return [
            KeyValue(
                key=k.replace("__", "."),
                value=AnyValue(int_value=v) if isinstance(v, int) else AnyValue(string_value=v),
            )
            for k, v in values.items()
        ]

    trace, root = os.urandom(16), os.urandom(8)
    start = int((datetime(2025, 6, 1, tzinfo=UTC) + timedelta(seconds=n)).timestamp() * 1e9)
    second = 1_000_000_000
    message = json.dumps([{"role": "user", "parts": [{"type": "text", "content": f"Classify ticket {n}"}]}])
    chat = dict(
        gen_ai__operation__name="chat",
        gen_ai__provider__name="openai",
        gen_ai__request__model="gpt-4o",
        gen_ai__usage__input_tokens=1200,
        gen_ai__usage__output_tokens=150,
        gen_ai__input__messages=message,
        gen_ai__output__messages='[{"role":"assistant","parts":[{"type":"text","content":"billing"}]}]',
    )
    children = [
        Span(
            trace_id=trace,
            span_id=os.urandom(8),
            parent_span_id=root,
            name="chat gpt-4o",
            start_time_unix_nano=start + second,
            end_time_unix_nano=start + 2 * second,
            attributes=attrs(**chat),
        ),
        Span(
            trace_id=trace,
            span_id=os.urandom(8),
            parent_span_id=root,
            name="execute_tool lookup",
            start_time_unix_nano=start + 2 * second,
            end_time_unix_nano=start + 3 * second,
            attributes=attrs(gen_ai__operation__name="execute_tool", gen_ai__tool__name="lookup"),
        ),
        Span(
            trace_id=trace,
            span_id=os.urandom(8),
            parent_span_id=root,
            name="chat gpt-4o",
            start_time_unix_nano=start + 3 * second,
            end_time_unix_nano=start + 4 * second,
            attributes=attrs(**chat),
        ),
    ]
    root_span = Span(
        trace_id=trace,
        span_id=root,
        name="invoke_agent classifier",
        start_time_unix_nano=start,
        end_time_unix_nano=start + 5 * second,
        attributes=attrs(gen_ai__operation__name="invoke_agent"),
    )
    return children, root_span


def exports(traces: int, split: bool) -> list[bytes]:
    """Protobuf bodies of at most 512 spans; ``split``: every trace's children in one export and
    its root in a later one (a long run the batch processor flushes mid-way)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    spans = []
    roots = []
    for n in range(traces):
        children, root = trace_spans(n)
        spans.extend(children)
        (roots if split else spans).append(root)
    spans.extend(roots)
    bodies = []
    for at in range(0, len(spans), SPANS_PER_EXPORT):
        request = ExportTraceServiceRequest()
        resource = request.resource_spans.add()
        resource.resource.attributes.add(key="service.name").value.string_value = "bench"
        resource.scope_spans.add().spans.extend(spans[at : at + SPANS_PER_EXPORT])
        bodies.append(request.SerializeToString())
    return bodies


def client_for(agent):
    from rest_framework.test import APIClient

    from agents.services import issue_key

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_key(agent=agent)[1]}")
    return client


def via_otlp(agent, bodies: list[bytes]) -> float:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    client = client_for(agent)
    began = time.perf_counter()
    for body in bodies:
        response = client.generic(
            "POST", "/api/v1/otel/v1/traces", body, content_type="application/x-protobuf"
        )
        assert response.status_code == 200, response.content[:300]
        assert ExportTraceServiceResponse.FromString(response.content).partial_success.rejected_spans == 0
    return time.perf_counter() - began


def via_batch(agent, batches: list[list[dict]]) -> float:
    client = client_for(agent)
    began = time.perf_counter()
    for items in batches:
        body = json.dumps({"executions": items})
        response = client.post("/api/v1/executions/batch", body, content_type="application/json")
        assert response.status_code == 207, response.content[:300]
    return time.perf_counter() - began


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench otlp")
    parser.add_argument("--traces", type=int, default=400, help="traces (agent runs) per OTLP measurement")
    parser.add_argument("--batches", type=int, default=4, help="batches of 1000 for the batch endpoint")
    args = parser.parse_args(argv)
    with throwaway_database("bench_mc_otlp"):
        from agents.services import create_agent
        from executions.models import Execution
        from governance.models import Business

        business = Business.objects.create(name="Bench", slug="bench")
        names = iter(range(100))

        def agent():
            return create_agent(business=business, name=f"bench-{next(names)}")

        spans = args.traces * 4
        lines = []
        for label, split in (
            ("OTLP, whole traces per export", False),
            ("OTLP, each trace over two exports", True),
        ):
            who = agent()
            took = via_otlp(who, exports(args.traces, split))
            assert Execution.objects.filter(agent=who, status="success").count() == args.traces
            lines.append((label, spans / took, args.traces / took))
        who = agent()
        run = uuid.uuid4().hex[:8]
        data = [[report(b * 1000 + i, run) for i in range(1000)] for b in range(args.batches)]
        took = via_batch(who, data)
        batch_rate = args.batches * 1000 / took
        lines.append(("batch endpoint (POST /executions/batch, 1000 per call)", None, batch_rate))
        print(
            f"OTLP ingestion vs the batch endpoint ({args.traces} traces of 4 spans; HTTP in-process, PostgreSQL):"
        )
        for label, span_rate, rate in lines:
            spans_text = f"{span_rate:>8,.0f} spans/s" if span_rate else " " * 16
            print(f"  {label:<56} {spans_text}  {rate:>8,.0f} executions/s  {rate / batch_rate:6.3f} x batch")
