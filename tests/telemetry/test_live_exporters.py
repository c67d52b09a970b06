"""Real clients against a live server: the OpenTelemetry SDK's OTLP/HTTP exporter and a
pydantic-ai agent, configured by the two environment variables and nothing else."""

import concurrent.futures
import json

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from tests.telemetry.conftest import agent_key
from tests.telemetry.otlp_payloads import as_json, chat, export, gzipped, span, span_id, trace_id

pytestmark = pytest.mark.slow  # real server processes


def exporter_env(monkeypatch, stack, key: str, **more) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"{stack.url}/api/v1/otel")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer {key}")
    for name, value in more.items():
        monkeypatch.setenv(name, value)


def provider(service: str) -> TracerProvider:
    tp = TracerProvider(resource=Resource.create({"service.name": service}))
    # The batch processor sends spans as they end: a trace arrives in several exports.
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=50))
    return tp


def executions(stack, agent_id: int) -> list[dict]:
    return stack.api().get("/api/v1/executions/", params={"agent": agent_id}).json()["results"]


def logs(stack, execution_id: int) -> list[dict]:
    return stack.api().get(f"/api/v1/executions/{execution_id}/logs").json()["results"]


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_it_books_the_sdk_exporters_spans_as_one_execution(live, monkeypatch, compression):
    agent_id, key = agent_key(live)
    exporter_env(monkeypatch, live, key, OTEL_EXPORTER_OTLP_COMPRESSION=compression)
    tp = provider("support-bot")
    tracer = tp.get_tracer("test")
    with tracer.start_as_current_span(
        "invoke_agent support", attributes={"gen_ai.operation.name": "invoke_agent"}
    ):
        for n in range(3):
            with tracer.start_as_current_span("chat gpt-4o-mini") as s:
                s.set_attributes(
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o-mini",
                        "gen_ai.usage.input_tokens": 300,
                        "gen_ai.usage.output_tokens": 40 + n,
                    }
                )
            tp.force_flush()  # each call in its own export, before the root ends
        with tracer.start_as_current_span(
            "execute_tool lookup",
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"},
        ):
            pass
    assert tp.force_flush()
    tp.shutdown()

    (execution,) = executions(live, agent_id)
    assert (execution["status"], execution["trigger"]) == ("success", "autonomous")
    assert (execution["input_tokens"], execution["output_tokens"]) == (900, 123)
    assert (execution["model"], execution["cost_source"]) == ("gpt-4o-mini", "computed")
    assert float(execution["cost_usd"]) > 0
    kinds = [entry["kind"] for entry in logs(live, execution["id"])]
    assert kinds.count("api_call") == 3 and kinds.count("tool_call") == 1


def test_it_marks_the_execution_failed_from_the_sdks_error_status(live, monkeypatch):
    agent_id, key = agent_key(live)
    exporter_env(monkeypatch, live, key)
    tp = provider("flaky-bot")
    with tp.get_tracer("test").start_as_current_span("invoke_agent flaky") as root:
        root.set_attribute("error.type", "RateLimitError")
        root.set_status(Status(StatusCode.ERROR, "upstream said 429"))
    tp.shutdown()
    (execution,) = executions(live, agent_id)
    assert (execution["status"], execution["error"]) == ("failed", "upstream said 429")


@pytest.mark.parametrize("gzip", [False, True])
def test_it_takes_otlp_json_from_a_plain_http_client(live, gzip):
    agent_id, key = agent_key(live)
    trace, root = trace_id(), span_id()
    body = as_json(export(span(trace, "invoke_agent", sid=root), chat(trace, root, tokens=(10, 5))))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if gzip:
        body, headers["Content-Encoding"] = gzipped(body), "gzip"
    response = httpx.post(f"{live.url}/api/v1/otel/v1/traces", content=body, headers=headers)
    assert (response.status_code, response.headers["content-type"], response.json()) == (
        200,
        "application/json",
        {},
    )
    (execution,) = executions(live, agent_id)
    assert (execution["external_id"], execution["input_tokens"]) == (trace.hex(), 10)


def test_a_pydantic_ai_agent_run_lands_as_one_execution(live, monkeypatch):
    from pydantic_ai import Agent
    from pydantic_ai.models.instrumented import InstrumentationSettings
    from pydantic_ai.models.test import TestModel

    agent_id, key = agent_key(live)
    exporter_env(monkeypatch, live, key)
    tp = provider("weather-agent")
    weather = Agent(TestModel(model_name="gpt-4o"), name="weather")
    weather.instrument = InstrumentationSettings(tracer_provider=tp, include_content=True)

    @weather.tool_plain
    def get_weather(city: str) -> str:
        return f"sunny in {city}"

    # On a thread of its own: an earlier async test in the same process may leave this thread's event
    # loop running, and run_sync refuses to nest in it.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(weather.run_sync, "What is the weather in Paris?").result(timeout=60)
    tp.shutdown()

    usage = result.usage
    (execution,) = executions(live, agent_id)
    assert execution["status"] == "success"
    assert (execution["input_tokens"], execution["output_tokens"]) == (
        usage.input_tokens,
        usage.output_tokens,
    )
    assert execution["model"] == "gpt-4o"
    assert execution["session_id"]  # gen_ai.conversation.id
    entries = logs(live, execution["id"])
    tools = [e for e in entries if e["kind"] == "tool_call"]
    assert [t["message"] for t in tools] == ["tool get_weather"]
    assert tools[0]["data"]["attributes"]["gen_ai.tool.call.result"].startswith("sunny in")
    assert any(e["kind"] == "prompt" and "What is the weather in Paris?" in e["message"] for e in entries)
    # Priced per inference span from the price data: gpt-4o's tokens, summed.
    per_span = sum(float(e["data"]["usage"]["cost_usd"]) for e in entries if e["kind"] == "api_call")
    assert execution["cost_source"] == "computed"
    assert float(execution["cost_usd"]) == pytest.approx(per_span) and per_span > 0
    assert json.dumps(execution["input"]).count("weather-agent") == 1  # the resource, kept
