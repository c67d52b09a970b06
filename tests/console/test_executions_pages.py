"""/global/executions, /global/executions/<id> and /global/logs."""

import pytest
from django.utils import timezone

from executions.logs import append_logs

pytestmark = pytest.mark.django_db


def test_it_lists_the_users_executions_only(viewer_page, agent, stranger_agent, make_execution):
    mine = make_execution(agent, status="failed", error="boom")
    theirs = make_execution(stranger_agent)
    body = viewer_page.get("/global/executions").content.decode()
    assert f'href="/global/executions/{mine.pk}"' in body
    assert f'href="/global/executions/{theirs.pk}"' not in body


def test_it_filters_by_status_and_searches_the_error_text(viewer_page, agent, make_execution):
    failed = make_execution(agent, status="failed", error="rate limited by provider")
    ok = make_execution(agent, status="success")
    body = viewer_page.get("/global/executions?status=failed&q=rate").content.decode()
    assert f"#{failed.pk}<" in body
    assert f"#{ok.pk}<" not in body


def test_it_shows_the_ledgers_own_message_for_a_bad_filter(viewer_page, agent):
    response = viewer_page.get("/global/executions?status=sleeping")
    assert response.status_code == 200
    assert "Unknown value &#x27;sleeping&#x27;" in response.content.decode()


def test_it_offers_replay_of_failed_runs_to_operators_only(page_as, agent, make_execution):
    failed = make_execution(agent, status="failed")
    replay = f'data-api-post="/api/v1/executions/{failed.pk}/replay"'
    assert replay in page_as("operator").get("/global/executions").content.decode()
    assert replay not in page_as("viewer").get("/global/executions").content.decode()


def test_it_pages_by_id_without_counting(viewer_page, agent, make_execution, django_assert_max_num_queries):
    rows = [make_execution(agent) for _ in range(55)]
    with django_assert_max_num_queries(9):
        body = viewer_page.get("/global/executions").content.decode()
    assert f"before={rows[5].pk}" in body
    older = viewer_page.get(f"/global/executions?before={rows[5].pk}").content.decode()
    assert f"#{rows[0].pk}<" in older
    assert f"#{rows[6].pk}<" not in older


def test_it_shows_one_execution_with_its_logs(viewer_page, agent, make_execution):
    execution = make_execution(agent, status="success", input={"ticket": 42}, output={"answer": "done"})
    append_logs(
        execution=execution,
        entries=[
            {
                "ts": timezone.now(),
                "level": "info",
                "kind": "prompt",
                "message": "Summarise ticket 42",
                "data": {"tokens": 12},
            },
            {
                "ts": timezone.now(),
                "level": "info",
                "kind": "tool_call",
                "message": "search_docs",
                "data": {"q": "x"},
            },
        ],
    )
    body = viewer_page.get(f"/global/executions/{execution.pk}").content.decode()
    assert "Summarise ticket 42" in body
    assert "search_docs" in body
    assert "&quot;ticket&quot;: 42" in body


def test_it_answers_404_for_another_business_s_execution(viewer_page, stranger_agent, make_execution):
    theirs = make_execution(stranger_agent)
    assert viewer_page.get(f"/global/executions/{theirs.pk}").status_code == 404


def test_execution_page_costs_a_fixed_number_of_queries(
    viewer_page, agent, make_execution, django_assert_max_num_queries
):
    execution = make_execution(agent, status="failed")
    append_logs(execution=execution, entries=[{"message": f"line {i}"} for i in range(40)])
    for _ in range(5):
        make_execution(agent, status="pending", replay_of=execution)
    with django_assert_max_num_queries(10):
        assert viewer_page.get(f"/global/executions/{execution.pk}").status_code == 200


def test_logs_page_searches_across_executions(viewer_page, agent, stranger_agent, make_execution):
    mine, theirs = make_execution(agent), make_execution(stranger_agent)
    append_logs(execution=mine, entries=[{"message": "cache warmed"}, {"message": "unrelated"}])
    append_logs(execution=theirs, entries=[{"message": "cache warmed elsewhere"}])
    body = viewer_page.get("/global/logs?q=cache").content.decode()
    assert "cache warmed" in body
    assert "elsewhere" not in body
    assert "unrelated" not in body


def test_logs_export_streams_csv_and_jsonl_of_the_matching_entries(viewer_page, agent, make_execution):
    execution = make_execution(agent)
    append_logs(execution=execution, entries=[{"message": "one", "kind": "prompt"}, {"message": "two"}])
    csv_body = b"".join(
        viewer_page.get("/global/logs/export?format=csv&kind=prompt").streaming_content
    ).decode()
    assert csv_body.splitlines()[0].startswith("id,execution,agent,business,seq")
    assert len(csv_body.strip().splitlines()) == 2
    jsonl = b"".join(viewer_page.get("/global/logs/export?format=jsonl").streaming_content).decode()
    assert [line.count('"message"') for line in jsonl.strip().splitlines()] == [1, 1]


def test_logs_page_costs_a_fixed_number_of_queries(
    viewer_page, agent, make_execution, django_assert_max_num_queries
):
    for _ in range(10):
        append_logs(execution=make_execution(agent), entries=[{"message": "x"}, {"message": "y"}])
    with django_assert_max_num_queries(8):
        assert viewer_page.get("/global/logs").status_code == 200


def test_logs_page_by_agent_shows_nothing_of_an_agent_outside_the_scope(
    viewer_page, agent, stranger_agent, make_execution
):
    theirs = make_execution(stranger_agent)
    append_logs(execution=theirs, entries=[{"message": "secret walrus"}])
    mine = make_execution(agent)
    append_logs(execution=mine, entries=[{"message": "my walrus"}])

    assert "secret walrus" not in viewer_page.get(f"/global/logs?agent={stranger_agent.pk}").content.decode()
    body = viewer_page.get(f"/global/logs?agent={agent.pk}").content.decode()
    assert "my walrus" in body and "secret walrus" not in body
