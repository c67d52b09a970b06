"""Step and cron runs reference the month-partitioned ledger by (execution_id, execution_created_at)
(PostgreSQL; executions 0013 partitioned it)."""

from django.db import migrations


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from executions import partitioning

    for table, name in partitioning.STEP_AND_CRON_RUNS:
        partitioning.add_reference(schema_editor.connection, table, name, say=lambda message: None)


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0013_partition_ledger"),
        ("workflows", "0008_ledger_references"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop, elidable=False)]
