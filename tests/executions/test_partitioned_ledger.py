"""The monthly-partitioned ledger (issue 19 item 3): every partition append-only, composite keys,
idempotency across months, partitions made ahead, and archive_ledger (export, verify, detach).

PostgreSQL only, except the last test (the SQLite path keeps plain tables and one code path)."""

import gzip
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from executions import archive, partitions
from executions.apps import ExecutionsConfig
from executions.logs import build_entries
from executions.models import ArchivedMonth, CostCorrection, Execution, ExecutionLog, IdempotencyKey
from observability import rollups
from observability.models import HourlyRollup
from tests.executions.conftest import finished, report

OLD = datetime(2025, 6, 1, 10, tzinfo=UTC)  # before the first monthly partition: the history one


def _row(agent, created_at, status="success", **fields) -> Execution:
    row = Execution.objects.create(
        business_id=agent.business_id,
        agent=agent,
        status=status,
        created_at=created_at,
        started_at=created_at,
        finished_at=created_at + timedelta(seconds=2) if status == "success" else None,
        duration_ms=2000 if status == "success" else None,
        model="gpt-4o",
        input_tokens=100,
        output_tokens=20,
        total_tokens=120,
        cost_usd=Decimal("0.01234567"),
        **fields,
    )
    ExecutionLog.objects.bulk_create(build_entries(row, [{"message": "hello"}, {"message": "done"}], 1))
    return row


def _raw(sql: str, params=()) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL mission_control.allow_truncate = 'off'")  # as outside the test runner
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending: TRUNCATE would refuse
        cursor.execute(sql, params)


pytestmark = pytest.mark.django_db


@pytest.mark.postgres
def test_every_partition_refuses_to_rewrite_delete_or_truncate_the_ledger(agent):
    months = partitions.partitions("executions_execution")
    assert months[0][0] == "executions_execution_history" and months[0][1] is None
    assert len(months) >= 5  # history, this month and the three ahead
    for name, lower, _ in months:
        row = _row(agent, OLD if lower is None else lower + timedelta(hours=1))
        log_partition = name.replace("executions_execution", "executions_executionlog")
        for table in ("executions_execution", name):
            with pytest.raises(IntegrityError, match="immutable"):
                _raw(f"UPDATE {table} SET error = 'psql' WHERE id = %s", [row.pk])
            with pytest.raises(IntegrityError, match="cannot be deleted"):
                _raw(f"DELETE FROM {table} WHERE id = %s", [row.pk])
        for table in ("executions_executionlog", log_partition):
            with pytest.raises(IntegrityError, match="append-only"):
                _raw(f"UPDATE {table} SET message = 'psql' WHERE execution_id = %s", [row.pk])
            with pytest.raises(IntegrityError, match="cannot be deleted"):
                _raw(f"DELETE FROM {table} WHERE execution_id = %s", [row.pk])
        with pytest.raises(IntegrityError, match="cannot be truncated"):
            _raw(f"TRUNCATE {log_partition}")
        with pytest.raises(IntegrityError, match="cannot be truncated"):
            _raw(f"TRUNCATE {name} CASCADE")
        assert Execution.objects.filter(pk=row.pk, error="").exists()
        assert (
            ExecutionLog.objects.filter(execution_id=row.pk, execution_created_at=row.created_at).count() == 2
        )


@pytest.mark.postgres
def test_composite_keys_refuse_rows_that_point_at_no_execution(agent):
    row = _row(agent, OLD)
    elsewhere = row.created_at + timedelta(days=200)  # the same id in another month is not this row
    with pytest.raises(IntegrityError, match="executionlog_execution_fk"):
        _raw(
            "INSERT INTO executions_executionlog (execution_id, execution_created_at, agent_id, business_id, seq,"
            " ts, level, kind, message) VALUES (%s, %s, %s, %s, 9, now(), 'info', 'log', 'orphan')",
            [row.pk, elsewhere, row.agent_id, row.business_id],
        )
    with pytest.raises(IntegrityError, match="costcorrection_execution_fk"):
        _raw(
            "INSERT INTO executions_costcorrection (execution_id, execution_created_at, cost_usd, cost_source,"
            " price_data_version, reason, created_at) VALUES (%s, %s, 1, 'computed', '', '', now())",
            [row.pk + 1000, row.created_at],
        )
    with pytest.raises(IntegrityError, match="idempotencykey_execution_fk"):
        _raw(
            "INSERT INTO executions_idempotencykey (agent_id, kind, value, execution_id, execution_created_at)"
            " VALUES (%s, 'external_id', 'orphan', %s, %s)",
            [agent.pk, row.pk, elsewhere],
        )
    # Through the models the month is filled in from the execution.
    correction = CostCorrection.objects.create(execution_id=row.pk, cost_usd="1", cost_source="computed")
    assert correction.execution_created_at == row.created_at


@pytest.mark.postgres
def test_an_external_id_is_unique_per_agent_across_months(agent, agent_api):
    first = report(agent_api, external_id="job-1", **finished(started_at="2025-06-01T10:00:00Z"))
    assert first.status_code == 201
    again = report(agent_api, external_id="job-1", **finished(started_at="2025-06-01T10:00:00Z"))
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    now = timezone.now().isoformat()
    other_month = report(agent_api, external_id="job-1", **finished(started_at=now, finished_at=now))
    assert other_month.status_code == 409 and other_month.json()["error"] == "idempotency_conflict"
    # Below the API too: the key table refuses the second row in another partition.
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(agent, timezone.now(), external_id="job-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(agent, OLD + timedelta(days=90), claim_id="c-1")
        _row(agent, timezone.now(), claim_id="c-1")
    assert Execution.objects.filter(external_id="job-1").count() == 1
    assert IdempotencyKey.objects.filter(kind="external_id", value="job-1").count() == 1


@pytest.mark.postgres
def test_the_sweep_makes_partitions_ahead_idempotently():
    assert ("executions.ensure_partitions", "executions.tasks.ensure_partitions", 6 * 3600) in (
        ExecutionsConfig.periodic_tasks
    )
    later = datetime(2031, 5, 10, tzinfo=UTC)
    made = partitions.ensure_partitions(now=later)
    months = ["y2031m05", "y2031m06", "y2031m07", "y2031m08"]
    assert sorted(made) == sorted(
        f"{t}_{m}" for t in ("executions_execution", "executions_executionlog") for m in months
    )
    assert partitions.ensure_partitions(now=later) == []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname LIKE '%%truncate_trg'",
            ["executions_executionlog_y2031m07"],
        )
        assert cursor.fetchone()[0] == 1


@pytest.mark.postgres
def test_a_row_in_a_month_with_no_partition_gets_one(agent):
    far = datetime(2033, 2, 3, tzinfo=UTC)
    row = _row(agent, far)
    assert "executions_execution_y2033m02" in [
        name for name, _, _ in partitions.partitions("executions_execution")
    ]
    assert ExecutionLog.objects.filter(execution=row).count() == 2


def _history_ledger(agent, agent_api):
    """Two old executions (history partition) with logs and a cost correction, one this month."""
    old = [
        report(
            agent_api,
            **finished(
                logs=[{"message": f"old {n}"}],
                started_at=f"2025-06-0{n + 1}T10:00:00Z",
                finished_at=f"2025-06-0{n + 1}T10:00:02Z",
            ),
        ).json()["id"]
        for n in range(2)
    ]
    CostCorrection.objects.create(execution_id=old[0], cost_usd="0.5", cost_source="computed")
    now = timezone.now().isoformat()
    recent = report(agent_api, external_id="recent", **finished(started_at=now, finished_at=now)).json()["id"]
    return old, recent


def _cut() -> str:
    return f"{partitions.month_start(timezone.now()):%Y-%m}"


@pytest.mark.postgres
def test_archive_ledger_exports_verifies_and_detaches_whole_months(agent, agent_api, tmp_path, capsys):
    old, recent = _history_ledger(agent, agent_api)
    rollups.catch_up(settle=timedelta(0))
    before = sorted(HourlyRollup.objects.values_list("hour", "executions", "cost_e8", "total_tokens"))
    expected = archive.figures_in_db(archive.archivable(partitions.month_start(timezone.now()))[0])

    call_command("archive_ledger", "--before", _cut(), "--dir", str(tmp_path))

    assert "history: 2 executions, 2 logs, 1 cost corrections" in capsys.readouterr().out
    archived = ArchivedMonth.objects.get(label="history")
    assert archived.figures == expected
    with gzip.open(tmp_path / "ledger-history.jsonl.gz", "rt") as export:
        lines = [json.loads(line) for line in export]
    assert sorted(line["row"]["id"] for line in lines if line["table"] == "executions") == sorted(old)
    assert [line["row"]["message"] for line in lines if line["table"] == "logs"] == ["old 0", "old 1"]
    # Gone from the ledger, kept in a read-only table of its own; the rest of the ledger is untouched.
    assert "executions_execution_history" not in [p[0] for p in partitions.partitions("executions_execution")]
    assert not Execution.objects.filter(pk__in=old).exists()
    assert Execution.objects.filter(pk=recent).exists()
    with pytest.raises(IntegrityError, match="append-only"):
        _raw("UPDATE archive_executions_history SET error = 'x'")
    with pytest.raises(IntegrityError, match="cannot be truncated"):
        _raw("TRUNCATE archive_executionlog_history")
    # Rollups keep the month's figures; the explorer and the dashboards still answer.
    assert sorted(HourlyRollup.objects.values_list("hour", "executions", "cost_e8", "total_tokens")) == before
    assert [r["id"] for r in agent_api.get("/api/v1/executions/").json()["results"]] == [recent]
    # Readable for export; a late report into the archived month is refused with a stable code.
    out = tmp_path / "export.jsonl"
    call_command("export_archive", "history", "--out", str(out))
    assert sorted(json.loads(line)["row"]["id"] for line in out.read_text().splitlines()[:2]) == sorted(old)
    late = report(
        agent_api, **finished(started_at="2025-06-09T10:00:00Z", finished_at="2025-06-09T10:00:02Z")
    )
    assert late.status_code == 409 and late.json()["error"] == "month_archived"
    # A new correction may not point at an archived execution; a new one still works.
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw(
            "INSERT INTO executions_costcorrection (execution_id, execution_created_at, cost_usd, cost_source,"
            " price_data_version, reason, created_at) VALUES (%s, '2025-06-01T10:00:00Z', 1, 'computed', '', '', now())",
            [old[0]],
        )
    CostCorrection.objects.create(execution_id=recent, cost_usd="0.2", cost_source="computed")
    # Nothing more before this month: a second run archives nothing.
    call_command("archive_ledger", "--before", _cut(), "--dir", str(tmp_path))
    assert ArchivedMonth.objects.count() == 1


@pytest.mark.postgres
def test_a_tampered_export_fails_verification_and_nothing_is_detached(
    agent, agent_api, tmp_path, monkeypatch
):
    _history_ledger(agent, agent_api)
    real_export = archive.export

    def tampered(month, path):
        real_export(month, path)
        with gzip.open(path, "rt") as export:
            lines = export.read().splitlines()
        row = json.loads(lines[0])
        row["row"]["cost_usd"] = 99
        with gzip.open(path, "wt") as out:
            out.write("\n".join([json.dumps(row), *lines[1:]]) + "\n")

    monkeypatch.setattr(archive, "export", tampered)
    with pytest.raises(CommandError, match="does not match the ledger for executions"):
        call_command("archive_ledger", "--before", _cut(), "--dir", str(tmp_path))
    assert partitions.partitions("executions_execution")[0][0] == "executions_execution_history"
    assert partitions.partitions("executions_executionlog")[0][0] == "executions_executionlog_history"
    assert ArchivedMonth.objects.count() == 0 and Execution.objects.count() == 3


@pytest.mark.postgres
def test_a_month_with_live_work_or_a_cut_in_the_future_is_refused(agent, agent_api, tmp_path):
    _row(agent, OLD, status="running")
    with pytest.raises(CommandError, match="still pending or running"):
        call_command("archive_ledger", "--before", _cut(), "--dir", str(tmp_path))
    with pytest.raises(CommandError, match="after the current month"):
        call_command("archive_ledger", "--before", "2099-01", "--dir", str(tmp_path))
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("archive_ledger", "--before", "soon")
    assert ArchivedMonth.objects.count() == 0


def test_one_code_path_on_every_database(agent, agent_api, tmp_path):
    """Keys and months are written the same way on SQLite, where the tables stay plain."""
    body = finished(external_id="k-1", logs=[{"message": "m"}])
    made = report(agent_api, **body).json()["id"]
    row = Execution.objects.get(pk=made)
    assert IdempotencyKey.objects.get(value="k-1").execution_created_at == row.created_at
    assert row.logs.get().execution_created_at == row.created_at
    assert report(agent_api, **body).json()["id"] == made
    if connection.vendor == "sqlite":
        assert partitions.ensure_partitions() == []
        with pytest.raises(CommandError, match="PostgreSQL only"):
            call_command("archive_ledger", "--before", _cut(), "--dir", str(tmp_path))


@pytest.mark.postgres
def test_partitioning_renamed_only_the_ledgers_own_indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND indexname LIKE '%%\\_h' AND tablename NOT LIKE 'executions\\_%%\\_history'"
        )
        assert cursor.fetchall() == []
        cursor.execute("SELECT to_regclass('agents_agent_pkey'), to_regclass('governance_business_pkey')")
        assert cursor.fetchone() == ("agents_agent_pkey", "governance_business_pkey")


@pytest.mark.postgres
def test_a_statement_of_keys_is_refused_whole_when_one_points_at_no_execution(agent):
    row = _row(agent, OLD)
    keys = [
        IdempotencyKey(
            agent=agent,
            kind="external_id",
            value="k-ok",
            execution_id=row.pk,
            execution_created_at=row.created_at,
        ),
        IdempotencyKey(
            agent=agent,
            kind="external_id",
            value="k-orphan",
            execution_id=row.pk,
            execution_created_at=row.created_at + timedelta(days=200),
        ),
    ]
    with pytest.raises(IntegrityError, match="idempotencykey_execution_fk"), transaction.atomic():
        IdempotencyKey.objects.bulk_create(keys)
    assert not IdempotencyKey.objects.filter(value__in=["k-ok", "k-orphan"]).exists()
    IdempotencyKey.objects.bulk_create(keys[:1])  # the one that names its execution goes in
    assert IdempotencyKey.objects.get(value="k-ok").execution_id == row.pk
