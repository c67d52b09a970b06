import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from executions.models import Execution
from executions.services import start_execution
from tests.executions.conftest import finished, report


@pytest.fixture
def root(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-secret-123")
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_ledger_list_never_counts_the_whole_table(root, agent_api):
    for _ in range(3):
        report(agent_api, **finished(logs=[{"message": "m"}]))
    with CaptureQueriesContext(connection) as ctx:
        response = root.get("/admin/executions/execution/")
    assert response.status_code == 200
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts), counts


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_for_more_rows(root, agent_api):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert root.get("/admin/executions/execution/?status__exact=success").status_code == 200
        return len(ctx.captured_queries)

    report(agent_api, **finished())
    few = queries()
    for _ in range(10):
        report(agent_api, **finished())
    assert queries() == few


@pytest.mark.django_db
def test_an_execution_page_is_read_only_with_its_logs(root, agent_api):
    pk = report(agent_api, **finished(logs=[{"message": "looked at the invoice"}])).json()["id"]
    page = root.get(f"/admin/executions/execution/{pk}/change/")
    assert page.status_code == 200
    assert b"looked at the invoice" in page.content
    assert b'name="_save"' not in page.content
    assert root.post(f"/admin/executions/execution/{pk}/delete/").status_code == 403


@pytest.mark.django_db
def test_the_abort_action_goes_through_the_service(root, pull_agent):
    execution = start_execution(agent=pull_agent, trigger="manual")
    response = root.post(
        "/admin/executions/execution/",
        {"action": "abort_selected", "_selected_action": [execution.pk]},
    )
    assert response.status_code == 302
    assert Execution.objects.get(pk=execution.pk).status == "aborted"


@pytest.mark.django_db
def test_run_settings_saved_in_the_admin_are_validated_and_audited_like_the_api(root, agent):
    from executions.models import AgentRunSettings
    from governance.models import AuditEntry

    form = {
        "agent": agent.pk,
        "timeout_s": "60",
        "heartbeat_timeout_s": "",
        "retry_policy": '{"max_attempts": 0}',
    }
    response = root.post("/admin/executions/agentrunsettings/add/", form)
    assert response.status_code == 200  # the form again, with configure_runs' own sentence
    assert "An integer from 1 to 100." in response.content.decode()
    assert not AgentRunSettings.objects.exists()
    assert not AuditEntry.objects.filter(action="agent.run_settings").exists()

    form["retry_policy"] = '{"max_attempts": 3}'
    assert root.post("/admin/executions/agentrunsettings/add/", form).status_code == 302
    row = AgentRunSettings.objects.get(agent=agent)
    assert (row.timeout_s, row.retry_policy["max_attempts"], row.retry_policy["backoff"]) == (60, 3, 2.0)
    assert AuditEntry.objects.get(action="agent.run_settings").actor == "root"
