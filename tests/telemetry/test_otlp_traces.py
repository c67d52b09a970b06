"""POST /api/v1/otel/v1/traces: OTLP/HTTP exports become executions (hand-built bodies)."""

from decimal import Decimal

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from executions.models import Execution, ExecutionLog
from governance.stops import engage_emergency_stop
from tests.telemetry.otlp_payloads import as_json, as_protobuf, chat, export, gzipped, span, span_id, trace_id

URL = "/api/v1/otel/v1/traces"
PB = "application/x-protobuf"


def post(api, request, *, encoding=PB, gzip=False):
    body = as_protobuf(request) if encoding == PB else as_json(request)
    headers = {"HTTP_CONTENT_ENCODING": "gzip"} if gzip else {}
    return api.generic("POST", URL, gzipped(body) if gzip else body, content_type=encoding, **headers)


def agent_trace(trace=None, *, root_error=""):
    trace = trace or trace_id()
    root = span_id()
    spans = [
        span(
            trace,
            "invoke_agent billing",
            sid=root,
            duration_s=5,
            error=root_error,
            gen_ai__operation__name="invoke_agent",
            gen_ai__conversation__id="conv-42",
            custom__team="payments",
        ),
        chat(
            trace,
            root,
            tokens=(1000, 200),
            start_s=1,
            gen_ai__input__messages='[{"role":"user","parts":[{"type":"text","content":"Refund order 17"}]}]',
            gen_ai__output__messages='[{"role":"assistant","parts":[{"type":"text","content":"Refunded."}]}]',
        ),
        span(
            trace,
            "execute_tool refund",
            parent=root,
            start_s=2,
            gen_ai__operation__name="execute_tool",
            gen_ai__tool__name="refund",
            gen_ai__tool__call__arguments='{"order": 17}',
        ),
        chat(trace, root, model="claude-3-5-haiku-latest", provider="anthropic", tokens=(500, 50), start_s=3),
    ]
    return trace, spans


@pytest.mark.django_db
def test_it_books_a_protobuf_trace_as_one_execution(agent_api):
    trace, spans = agent_trace()
    response = post(agent_api, export(*spans))
    assert response.status_code == 200
    assert response["Content-Type"] == PB
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 0
    execution = Execution.objects.get(external_id=trace.hex())
    assert (execution.status, execution.trigger, execution.agent_id) == (
        "success",
        "autonomous",
        agent_api.agent.pk,
    )
    assert (execution.input_tokens, execution.output_tokens) == (1500, 250)
    assert (execution.model, execution.model_provider) == ("gpt-4o", "openai")
    assert execution.session_id == "conv-42"
    assert execution.duration_ms == 5000
    assert execution.cost_source == "computed"
    assert execution.cost_usd > Decimal("0.0035")  # gpt-4o's share alone is $0.0045


@pytest.mark.django_db
def test_it_prices_each_inference_span_at_its_own_model(agent_api):
    trace, spans = agent_trace()
    post(agent_api, export(*spans))
    logs = ExecutionLog.objects.filter(execution__external_id=trace.hex(), kind="api_call").order_by("seq")
    costs = [Decimal(entry.data["usage"]["cost_usd"]) for entry in logs]
    assert len(costs) == 2 and costs[0] != costs[1]
    assert Execution.objects.get(external_id=trace.hex()).cost_usd == sum(costs)


@pytest.mark.django_db
def test_it_keeps_prompts_completions_tool_calls_and_unknown_attributes(agent_api):
    trace, spans = agent_trace()
    post(agent_api, export(*spans))
    logs = list(ExecutionLog.objects.filter(execution__external_id=trace.hex()).order_by("seq"))
    kinds = [entry.kind for entry in logs]
    assert kinds.count("prompt") == 1 and kinds.count("completion") == 1 and kinds.count("tool_call") == 1
    assert next(e for e in logs if e.kind == "prompt").message == "user: Refund order 17"
    root = next(e for e in logs if e.data.get("operation") == "invoke_agent")
    assert root.data["attributes"]["custom.team"] == "payments"
    tool = next(e for e in logs if e.kind == "tool_call")
    assert tool.message == "tool refund"


@pytest.mark.django_db
def test_it_reads_otlp_json_and_answers_json(agent_api):
    trace, spans = agent_trace()
    response = post(agent_api, export(*spans), encoding="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}
    assert Execution.objects.get(external_id=trace.hex()).input_tokens == 1500


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", [PB, "application/json"])
def test_it_reads_gzip_bodies(agent_api, encoding):
    trace, spans = agent_trace()
    assert post(agent_api, export(*spans), encoding=encoding, gzip=True).status_code == 200
    assert Execution.objects.get(external_id=trace.hex()).output_tokens == 250


@pytest.mark.django_db
def test_it_merges_a_trace_sent_in_several_exports_and_settles_on_the_root(agent_api):
    trace, (root, *children) = agent_trace()
    post(agent_api, export(children[0]))
    execution = Execution.objects.get(external_id=trace.hex())
    assert execution.status == "running" and execution.input_tokens == 1000
    post(agent_api, export(*children[1:]))
    execution.refresh_from_db()
    assert execution.status == "running" and execution.input_tokens == 1500
    post(agent_api, export(root))
    execution.refresh_from_db()
    assert execution.status == "success" and (execution.input_tokens, execution.output_tokens) == (1500, 250)
    assert execution.duration_ms == 5000


@pytest.mark.django_db
def test_it_counts_a_span_sent_twice_once(agent_api):
    trace, (root, *children) = agent_trace()
    post(agent_api, export(*children))
    post(agent_api, export(*children))
    post(agent_api, export(root, *children))
    execution = Execution.objects.get(external_id=trace.hex())
    assert (execution.status, execution.input_tokens) == ("success", 1500)
    assert ExecutionLog.objects.filter(execution=execution, kind="api_call").count() == 2


@pytest.mark.django_db
def test_it_repeats_a_whole_export_without_a_change(agent_api):
    trace, spans = agent_trace()
    first = post(agent_api, export(*spans))
    again = post(agent_api, export(*spans))
    assert first.status_code == again.status_code == 200
    assert ExportTraceServiceResponse.FromString(again.content).partial_success.rejected_spans == 0
    assert Execution.objects.filter(external_id=trace.hex()).count() == 1


@pytest.mark.django_db
def test_it_fails_the_execution_when_the_root_span_fails(agent_api):
    trace, spans = agent_trace(root_error="tool crashed")
    post(agent_api, export(*spans))
    execution = Execution.objects.get(external_id=trace.hex())
    assert (execution.status, execution.error) == ("failed", "tool crashed")


@pytest.mark.django_db
def test_it_reads_error_type_and_the_older_token_names(agent_api):
    trace = trace_id()
    root = span_id()
    spans = [
        span(trace, "run", sid=root, gen_ai__operation__name="invoke_agent", error__type="timeout"),
        span(
            trace,
            "chat",
            parent=root,
            gen_ai__operation__name="chat",
            gen_ai__system="openai",
            gen_ai__request__model="gpt-4o-mini",
            gen_ai__usage__prompt_tokens=40,
            gen_ai__usage__completion_tokens=9,
        ),
    ]
    post(agent_api, export(*spans))
    execution = Execution.objects.get(external_id=trace.hex())
    assert (execution.status, execution.error_type) == ("failed", "timeout")
    assert (execution.input_tokens, execution.output_tokens, execution.model_provider) == (40, 9, "openai")


@pytest.mark.django_db
def test_it_books_message_events_of_older_conventions(agent_api):
    trace = trace_id()
    spans = [
        span(
            trace,
            "chat gpt-4o",
            gen_ai__operation__name="chat",
            gen_ai__request__model="gpt-4o",
            events=[("gen_ai.user.message", {"content": "hello"}), ("gen_ai.choice", {"message": "hi"})],
        ),
    ]
    post(agent_api, export(*spans))
    kinds = set(
        ExecutionLog.objects.filter(execution__external_id=trace.hex()).values_list("kind", flat=True)
    )
    assert {"prompt", "completion", "api_call"} <= kinds


@pytest.mark.django_db
def test_it_refuses_new_traces_during_an_emergency_stop_as_partial_success(
    agent_api, business, django_user_model
):
    owner = django_user_model.objects.create_superuser("boss", "b@example.com", "pw")
    engage_emergency_stop(business=business, reason="drill", actor=owner)
    _, (_root, *children) = agent_trace()
    response = post(agent_api, export(*children), encoding="application/json")
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "3"
    assert "emergency_stop" in response.json()["partialSuccess"]["errorMessage"]
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_it_answers_415_for_another_content_type(agent_api):
    response = agent_api.generic("POST", URL, b"hello", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (b"\xff\xfe not protobuf", PB),
        (b"{not json", "application/json"),
        (b'{"resourceSpans": 3}', "application/json"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "application/json"),
    ],
)
def test_it_answers_400_for_a_malformed_body(agent_api, body, encoding):
    response = agent_api.generic("POST", URL, body, content_type=encoding)
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_otlp"
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_it_answers_413_above_the_limit_even_once_gunzipped(agent_api, settings):
    settings.MC_MAX_OTLP_BYTES = 10_000
    bomb = gzipped(b"\x00" * 1_000_000)
    response = agent_api.generic("POST", URL, bomb, content_type=PB, HTTP_CONTENT_ENCODING="gzip")
    assert len(bomb) < 10_000
    assert response.status_code == 413


@pytest.mark.django_db
def test_it_answers_401_without_a_key_and_403_for_an_operator(client, operator_api):
    assert client.post(URL, b"", content_type=PB).status_code == 401
    assert operator_api.generic("POST", URL, b"", content_type=PB).status_code == 403


@pytest.mark.django_db
def test_it_takes_an_export_as_the_agents_heartbeat(agent_api):
    _, spans = agent_trace()
    request = export(*spans)
    request.resource_spans[0].resource.attributes.add(key="service.version").value.string_value = "2.4.1"
    post(agent_api, request)
    agent = agent_api.agent
    agent.refresh_from_db()
    assert agent.last_heartbeat is not None and agent.version == "2.4.1"
