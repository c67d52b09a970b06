from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL: a live ledger keeps taking reports while it builds
    (a plain CREATE INDEX blocks every write to the table for the build, 5 s or more at 2M rows);
    a plain index elsewhere (SQLite has no CONCURRENTLY and no concurrent writers to spare)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False  # CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("executions", "0008_execution_created_order"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="execution",
            index=models.Index(fields=["business", "duration_ms"], name="execution_business_duration"),
        ),
    ]
