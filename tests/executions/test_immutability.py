import pytest
from django.db import IntegrityError, connection, transaction

from executions.models import Execution, ExecutionLog, ImmutableExecution
from mission_control.models import AppendOnlyError
from tests.executions.conftest import finished, report


@pytest.fixture
def done(agent_api):
    return Execution.objects.get(pk=report(agent_api, **finished(logs=[{"message": "m"}])).json()["id"])


@pytest.mark.django_db
def test_a_finished_execution_refuses_any_change_with_409(agent_api, done):
    response = agent_api.patch(f"/api/v1/executions/{done.pk}/", {"output": {"x": 1}}, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == "immutable"
    done.refresh_from_db()
    assert done.output is None


@pytest.mark.django_db
def test_delete_is_405_always(agent_api, owner_api, done):
    assert agent_api.delete(f"/api/v1/executions/{done.pk}/").status_code == 405
    response = owner_api.delete(f"/api/v1/executions/{done.pk}")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    running = report(agent_api, input={}).json()["id"]
    assert agent_api.delete(f"/api/v1/executions/{running}/").status_code == 405
    assert Execution.objects.count() == 2


@pytest.mark.django_db
def test_put_cannot_replace_an_execution(agent_api, done):
    assert agent_api.put(f"/api/v1/executions/{done.pk}/", {}, format="json").status_code == 405


@pytest.mark.django_db
def test_the_model_refuses_to_save_or_delete_a_terminal_row(done):
    done.error = "rewritten"
    with pytest.raises(ImmutableExecution):
        done.save()
    with pytest.raises(ImmutableExecution):
        done.delete()
    with pytest.raises(ImmutableExecution):
        Execution.objects.all().delete()


@pytest.mark.django_db
def test_bulk_updates_never_touch_terminal_rows(done):
    assert Execution.objects.filter(pk=done.pk).update(error="rewritten") == 0
    done.refresh_from_db()
    assert done.error == ""


@pytest.mark.django_db
def test_log_entries_are_append_only(done):
    entry = ExecutionLog.objects.get(execution=done)
    entry.message = "changed"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        ExecutionLog.objects.filter(pk=entry.pk).update(message="changed")
    with pytest.raises(AppendOnlyError):
        ExecutionLog.objects.all().delete()


def _raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_refuses_raw_sql_that_rewrites_or_deletes_history(done, agent_api):
    with pytest.raises(IntegrityError, match="immutable"):
        _raw("UPDATE executions_execution SET error = 'psql' WHERE id = %s", [done.pk])
    with pytest.raises(IntegrityError, match="cannot be deleted"):
        _raw("DELETE FROM executions_execution WHERE id = %s", [done.pk])
    with pytest.raises(IntegrityError, match="append-only"):
        _raw("UPDATE executions_executionlog SET message = 'psql' WHERE execution_id = %s", [done.pk])
    with pytest.raises(IntegrityError, match="cannot be deleted"):
        _raw("DELETE FROM executions_executionlog WHERE execution_id = %s", [done.pk])
    done.refresh_from_db()
    assert done.error == "" and done.logs.get().message == "m"


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_still_lets_a_live_row_move_on_but_never_be_deleted(agent_api):
    live = report(agent_api, input={}).json()["id"]
    _raw("UPDATE executions_execution SET output = '{}'::jsonb WHERE id = %s", [live])
    with pytest.raises(IntegrityError, match="cannot be deleted"):
        _raw("DELETE FROM executions_execution WHERE id = %s", [live])


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgres_refuses_to_rewrite_a_cost_correction(done):
    from executions.models import CostCorrection

    correction = CostCorrection.objects.create(execution=done, cost_usd="0.1", cost_source="computed")
    with pytest.raises(IntegrityError, match="append-only"):
        _raw("UPDATE executions_costcorrection SET cost_usd = 0 WHERE id = %s", [correction.pk])
    with pytest.raises(IntegrityError, match="cannot be deleted"):
        _raw("DELETE FROM executions_costcorrection WHERE id = %s", [correction.pk])
