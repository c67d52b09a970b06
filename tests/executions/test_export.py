import csv
import io
import json
import tracemalloc

import pytest

from executions.models import Execution, Status
from tests.executions.conftest import finished, report


def export(client, query):
    response = client.get(f"/api/v1/executions/export?{query}")
    assert response.status_code == 200
    assert response.streaming
    return response


@pytest.mark.django_db
def test_it_exports_csv_with_every_contract_column(viewer_api, agent_api):
    report(agent_api, **finished(input={"a": "b, c"}, error='quote "me"'))
    response = export(viewer_api, "format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == "success" and row["cost_usd"] == "0.00350000" and row["cost_source"] == "computed"
    assert json.loads(row["input"]) == {"a": "b, c"} and row["error"] == 'quote "me"'
    assert row["business"] == "acme" and row["model"] == "gpt-4o"


@pytest.mark.django_db
def test_it_exports_jsonl_with_the_same_filters_as_search(viewer_api, agent_api):
    report(agent_api, **finished())
    failed = report(agent_api, **finished(status="failed", error="boom")).json()["id"]
    lines = b"".join(export(viewer_api, "format=jsonl&status=failed").streaming_content).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [failed]


@pytest.mark.django_db
def test_it_refuses_an_unknown_format(viewer_api):
    response = viewer_api.get("/api/v1/executions/export?format=xml")
    assert response.status_code == 400
    assert "format" in response.json()["fields"]


@pytest.mark.django_db
def test_it_exports_only_the_callers_businesses(agent_api, make_member, other_business):
    from tests.conftest import client_for

    report(agent_api, **finished())
    stranger = client_for(make_member("owner", other_business))
    assert b"".join(export(stranger, "format=jsonl").streaming_content) == b""


def _seed(agent, n):
    Execution.objects.bulk_create(
        [
            Execution(
                business_id=agent.business_id,
                agent=agent,
                status=Status.SUCCESS,
                input={"prompt": "x" * 200, "i": i},
                output={"text": "y" * 200},
                model="gpt-4o",
                input_tokens=100,
                output_tokens=10,
            )
            for i in range(n)
        ],
        batch_size=2000,
    )


def _peak_while_exporting(client) -> tuple[int, int]:
    response = export(client, "format=csv")
    lines = 0
    tracemalloc.start()
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return lines, peak


@pytest.mark.django_db
def test_export_memory_does_not_grow_with_the_number_of_rows(viewer_api, agent, monkeypatch):
    # Memory is bounded by one fetched chunk; a small chunk lets a modest table span many.
    monkeypatch.setattr("executions.export.CHUNK", 250)
    _seed(agent, 1_000)
    small_lines, small_peak = _peak_while_exporting(viewer_api)
    _seed(agent, 9_000)
    big_lines, big_peak = _peak_while_exporting(viewer_api)
    assert (small_lines, big_lines) == (1_001, 10_001)
    # Ten times the rows, about the same memory: rows are streamed, never gathered.
    assert big_peak < small_peak * 1.3, (small_peak, big_peak)
