"""Full-text search indexes (PostgreSQL only; SQLite searches with a plain LIKE) and the
append-only guard for cost corrections.

The index expressions must stay identical to ``executions.search.EXECUTION_DOCUMENT`` and
``LOG_DOCUMENT``, or the planner will not use them.
"""

from django.db import migrations

from mission_control.db import append_only

EXECUTION_DOCUMENT = (
    "(to_tsvector('english'::regconfig, coalesce(error, ''))"
    " || to_tsvector('english'::regconfig, coalesce(input, '{}'::jsonb))"
    " || to_tsvector('english'::regconfig, coalesce(output, 'null'::jsonb)))"
)
LOG_DOCUMENT = "to_tsvector('english'::regconfig, message)"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS execution_fulltext ON executions_execution USING gin ({EXECUTION_DOCUMENT})"
        )
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS executionlog_fulltext ON executions_executionlog USING gin ({LOG_DOCUMENT})"
        )


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS execution_fulltext")
        cursor.execute("DROP INDEX IF EXISTS executionlog_fulltext")


class Migration(migrations.Migration):
    dependencies = [("executions", "0003_ledger_lifecycle")]

    operations = [
        migrations.RunPython(forward, backward, elidable=False),
        append_only("executions_costcorrection"),
    ]
