"""Log entries carry their execution's agent and business (issue 19 item 2: the logs page).

The logs page filtered by agent, and scoped to the caller's businesses, through a semi-join on the
executions: a hash of the matching executions and a sequential scan of every log entry (120 ms for
the agent filter on 200,000 executions, growing with the ledger). Copied onto the entries (they are
fixed for an execution's life) and indexed with the id, a page is read from one index, newest first.

The existing entries are filled with one UPDATE (the append-only trigger is off for that statement
only, inside this migration's transaction; ``DISABLE TRIGGER`` on the partitioned parent reaches
every partition) and analysed (without fresh statistics the planner took the new business index for
the logs page and sorted every entry), then the columns become NOT NULL and the two indexes are
built on every partition. The UPDATE writes a new version of every entry: VACUUM the table after.
"""

import django.db.models.deletion
from django.db import migrations, models

FILL_PG = """
ALTER TABLE executions_executionlog DISABLE TRIGGER executions_executionlog_append_only_trg;
UPDATE executions_executionlog l SET agent_id = e.agent_id, business_id = e.business_id
  FROM executions_execution e WHERE e.id = l.execution_id AND e.created_at = l.execution_created_at;
ALTER TABLE executions_executionlog ENABLE TRIGGER executions_executionlog_append_only_trg;
ANALYZE executions_executionlog;
"""
FILL = """
UPDATE executions_executionlog SET
  agent_id = (SELECT e.agent_id FROM executions_execution e WHERE e.id = executions_executionlog.execution_id),
  business_id = (SELECT e.business_id FROM executions_execution e WHERE e.id = executions_executionlog.execution_id)
"""


def fill(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FILL_PG if postgres else FILL)


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0001_initial"),
        ("executions", "0015_referenced_key_names"),
        ("governance", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="executionlog",
            name="agent",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="agents.agent",
            ),
        ),
        migrations.AddField(
            model_name="executionlog",
            name="business",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="governance.business",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="executionlog",
            name="agent",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="agents.agent",
            ),
        ),
        migrations.AlterField(
            model_name="executionlog",
            name="business",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="governance.business",
            ),
        ),
        migrations.AddIndex(
            model_name="executionlog",
            index=models.Index(fields=["agent", "-id"], name="executionlog_agent_id"),
        ),
        migrations.AddIndex(
            model_name="executionlog",
            index=models.Index(fields=["business", "-id"], name="executionlog_business_id"),
        ),
    ]
