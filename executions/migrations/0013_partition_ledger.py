"""The ledger and its logs partitioned by month (issue 19 item 3; docs/ledger-partitioning.md).

PostgreSQL only (SQLite keeps plain tables; the models are the same). The existing tables become
the ``_history`` partitions, everything before the first month (no copy: executions/partitioning.py),
then the composite foreign keys are added and the current month and the next three are made. Not
atomic: the new keys and bound checks are built CONCURRENTLY / validated under weak locks first.
"""

from django.db import migrations

from executions import partitioning, partitions


def bound(cursor):
    """The first month after every existing row (the current month on an empty ledger)."""
    from django.utils import timezone

    cursor.execute("SELECT max(created_at) FROM executions_execution")
    newest = cursor.fetchone()[0]
    if newest is None:
        return partitions.month_start(timezone.now())
    return partitions.add_months(partitions.month_start(max(newest, timezone.now())), 1)


def forward(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'executions_execution'::regclass")
        if cursor.fetchone()[0]:
            return
        cut = bound(cursor)
    for table, key in partitions.LEDGER:
        partitioning.convert(connection, table, key, cut, say=_quiet)
    partitioning.add_reference(connection, *partitioning.REFERENCES[0], partitioned=True, say=_quiet)
    # The keys' reference as first made here (0017 checks it per statement instead).
    for table, name in (*partitioning.REFERENCES[1:], ("executions_idempotencykey", "idempotencykey_execution_fk")):
        partitioning.add_reference(connection, table, name, say=_quiet)
    partitions.ensure_partitions()


def _quiet(message: str) -> None:
    import os

    if os.environ.get("MC_MIGRATION_TIMINGS"):
        print(message, flush=True)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("executions", "0012_ledger_references"),
        ("workflows", "0008_ledger_references"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop, elidable=False)]
